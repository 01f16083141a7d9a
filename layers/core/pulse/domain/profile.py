"""The user profile (contract section 2) and how behaviour events change it.

Everything here is pure: no clock, no I/O. Every list and map is bounded so that a profile stays far
below DynamoDB's item limit however many events a user sends. Sorted-by-event-time lists, counters,
min/max and decayed scores make the result independent of the order batches arrive in (up to the
bounds, which keep the most recent / strongest entries).
"""

import bisect
import heapq
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pulse.domain.decay import DecayedScores
from pulse.domain.events import KNOWN_TRAITS, MAX_CUSTOM_TRAITS, BehaviorEvent, TraitValue

# Bounds (entries), chosen so the stored profile stays under 64 KB (see tests/unit/test_profile_size).
MAX_RECENT = 50
MAX_INTERACTED = 500
MAX_PURCHASED = 200
MAX_ITEM_AFFINITIES = 200
MAX_AFFINITIES = 50
MAX_CART = 100
MAX_QUERIES = 10
MAX_SESSION_IDS = 20
SESSION_GAP_SECONDS = 30 * 60  # no session_id: a new session starts after 30 minutes of silence
INTENT_HALF_LIFE_SECONDS = 30 * 60  # what the user shops *now* fades within the hour

# How strongly each event type says "I like this" (negative: "I do not").
SIGNAL_WEIGHTS: dict[str, float] = {
    "view": 1.0,
    "click": 1.5,
    "add_to_cart": 3.0,
    "remove_from_cart": -1.5,
    "purchase": 5.0,
    "like": 4.0,
    "dislike": -4.0,
    "ad_impression": -0.2,  # an impression that is not followed by a click reads as "ignored"
    "ad_click": 2.0,
}
PRICE_BANDS: tuple[tuple[float, str], ...] = (
    (10, "0-10"),
    (25, "10-25"),
    (50, "25-50"),
    (100, "50-100"),
    (250, "100-250"),
    (500, "250-500"),
    (math.inf, "500+"),
)


def signal_weight(event: BehaviorEvent) -> float:
    if event.event_type == "rate":
        # 5 -> +2.5, 3 -> +0.5 (watched it, mildly positive), 1 -> -1.5
        return float(event.value or 3.0) - 2.5
    return SIGNAL_WEIGHTS.get(event.event_type, 0.0)


def price_band(price: float) -> str:
    for upper, name in PRICE_BANDS:
        if price < upper:
            return name
    return PRICE_BANDS[-1][1]


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class Interaction:
    at: float
    event_type: str
    item_id: str
    event_id: str
    value: float | None = None
    recommendation_id: str | None = None  # the response that led to it (attribution)

    def sort_key(self) -> tuple[float, str]:
        return (self.at, self.event_id)


@dataclass(slots=True)
class Behavior:
    counts: dict[str, int] = field(default_factory=dict)
    total_spend: float = 0.0
    units_purchased: int = 0
    first_seen: float | None = None
    last_seen: float | None = None
    sessions: int = 0
    return_gap_seconds: float = 0.0  # silence before the latest session (lapsed users coming back)
    recent_sessions: list[str] = field(default_factory=list)
    recent: list[Interaction] = field(default_factory=list)
    # item -> time of the latest interaction; used to leave out what the user already knows
    interacted: dict[str, float] = field(default_factory=dict)
    purchased: dict[str, float] = field(default_factory=dict)
    # events that carried a recommendation_id, per event type: what the recommendations led to
    from_recommendations: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Preferences:
    half_life_days: float
    categories: DecayedScores = field(default_factory=DecayedScores)
    brands: DecayedScores = field(default_factory=DecayedScores)
    price_bands: DecayedScores = field(default_factory=DecayedScores)
    items: DecayedScores = field(default_factory=DecayedScores)


@dataclass(slots=True)
class Intent:
    session_id: str | None = None
    session_started_at: float | None = None
    cart: dict[str, int] = field(default_factory=dict)  # net quantity; shown when > 0
    cart_updated_at: float | None = None
    last_purchase_at: float | None = None
    recent_queries: list[tuple[float, str]] = field(default_factory=list)
    categories: DecayedScores = field(default_factory=DecayedScores)


@dataclass(slots=True)
class RiskState:
    score: float = 0.0
    flags: list[str] = field(default_factory=list)
    # the latest 120 whole seconds of event time that had events (ascending), and how many in each
    seconds: list[int] = field(default_factory=list)
    per_second: list[int] = field(default_factory=list)
    peak_events_per_minute: int = 0
    new_account_high_value: bool = False


@dataclass(slots=True)
class UserProfile:
    user_id: str
    created_at: float
    updated_at: float
    preferences: Preferences
    version: int = 0
    traits: dict[str, TraitValue] = field(default_factory=dict)
    behavior: Behavior = field(default_factory=Behavior)
    intent: Intent = field(default_factory=Intent)
    segments: list[str] = field(default_factory=list)
    risk: RiskState = field(default_factory=RiskState)

    @classmethod
    def new(cls, user_id: str, now: float, half_life_days: float) -> "UserProfile":
        return cls(
            user_id=user_id,
            created_at=now,
            updated_at=now,
            preferences=Preferences(half_life_days=half_life_days),
        )

    @property
    def half_life_seconds(self) -> float:
        return self.preferences.half_life_days * 86400.0

    def cart_items(self) -> dict[str, int]:
        return {k: v for k, v in self.intent.cart.items() if v > 0}

    def cart_lines(self) -> int:
        """``len(cart_items())`` without building the dict (segment features read it on every write)."""
        return len([v for v in self.intent.cart.values() if v > 0])

    def public_view(self, top: int = 10) -> dict[str, Any]:
        """The profile as the API returns it (contract section 2): readable times, top affinities."""
        b, p, i, r = self.behavior, self.preferences, self.intent, self.risk
        now = b.last_seen or self.updated_at
        hl = self.half_life_seconds

        def scores(s: DecayedScores, half_life: float = hl) -> dict[str, float]:
            return {k: round(v, 4) for k, v in s.top(top, now, half_life)}

        return {
            "user_id": self.user_id,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "version": self.version,
            "traits": {k: (iso(v) if k == "signup_at" and isinstance(v, float) else v) for k, v in self.traits.items()},
            "behavior": {
                "counts": dict(sorted(b.counts.items())),
                "total_events": sum(b.counts.values()),
                "total_spend": round(b.total_spend, 2),
                "units_purchased": b.units_purchased,
                "first_seen": iso(b.first_seen),
                "last_seen": iso(b.last_seen),
                "sessions": b.sessions,
                "from_recommendations": dict(sorted(b.from_recommendations.items())),
                "recent_interactions": [
                    {"at": iso(x.at), "event_type": x.event_type, "item_id": x.item_id}
                    | ({"value": x.value} if x.value is not None else {})
                    | ({"recommendation_id": x.recommendation_id} if x.recommendation_id else {})
                    for x in reversed(b.recent[-20:])
                ],
            },
            "preferences": {
                "half_life_days": p.half_life_days,
                "as_of": iso(now),
                "categories": scores(p.categories),
                "brands": scores(p.brands),
                "price_bands": scores(p.price_bands),
                "items": scores(p.items),
            },
            "intent": {
                "session_id": i.session_id,
                "session_started_at": iso(i.session_started_at),
                "cart": self.cart_items(),
                "recent_queries": [q for _, q in reversed(i.recent_queries)],
                "categories": scores(i.categories, INTENT_HALF_LIFE_SECONDS),
            },
            "segments": sorted(self.segments),
            "risk": {"score": round(r.score, 4), "flags": list(r.flags)},
        }


def _merge_traits(traits: dict[str, TraitValue], given: dict[str, TraitValue]) -> None:
    """Known traits and custom traits already held are updated; a new custom trait is added only
    while the profile holds fewer than ``MAX_CUSTOM_TRAITS``, so a stream of ``identify`` events with
    ever new keys can never grow a profile past DynamoDB's item limit."""
    custom = sum(1 for key in traits if key not in KNOWN_TRAITS)
    for key, value in given.items():
        if key in traits or key in KNOWN_TRAITS:
            traits[key] = value
        elif custom < MAX_CUSTOM_TRAITS:
            traits[key] = value
            custom += 1


def _insert_bounded_sorted(items: list[Any], item: Any, limit: int, key: Any) -> None:
    """Insert by event time and keep the latest ``limit``: the same list in any arrival order."""
    k = key(item)
    if not items or key(items[-1]) <= k:
        items.append(item)  # the common, in-order case
    else:
        items.insert(bisect.bisect_right([key(x) for x in items], k), item)
    if len(items) > limit:
        del items[: len(items) - limit]


def _touch_bounded(mapping: dict[str, float], key: str, at: float, limit: int) -> None:
    """Remember ``key`` with its latest time; beyond ``limit`` (plus slack) drop the oldest."""
    mapping[key] = max(at, mapping.get(key, at))
    if len(mapping) > limit + max(1, limit // 4):
        keep = heapq.nlargest(limit, mapping.items(), key=lambda kv: (kv[1], kv[0]))
        mapping.clear()
        mapping.update(keep)


def _track_session(profile: UserProfile, event: BehaviorEvent) -> None:
    b, intent = profile.behavior, profile.intent
    sid = event.session_id
    if b.last_seen is not None and event.timestamp - b.last_seen > SESSION_GAP_SECONDS:
        b.return_gap_seconds = event.timestamp - b.last_seen
    if sid is None:
        # Infer sessions from gaps when the producer does not send session ids.
        last = b.last_seen
        if last is None or event.timestamp - last > SESSION_GAP_SECONDS:
            b.sessions += 1
            if last is None or event.timestamp >= last:
                intent.session_id, intent.session_started_at = None, event.timestamp
        return
    if sid not in b.recent_sessions:
        b.sessions += 1
        b.recent_sessions.append(sid)
        del b.recent_sessions[:-MAX_SESSION_IDS]
    if b.last_seen is None or event.timestamp >= b.last_seen:
        if intent.session_id != sid:
            intent.session_id, intent.session_started_at = sid, event.timestamp
        elif intent.session_started_at is not None:
            intent.session_started_at = min(intent.session_started_at, event.timestamp)


def apply_event(profile: UserProfile, event: BehaviorEvent) -> None:
    """Fold one event into the profile in place (the caller has already de-duplicated it)."""
    b, p, intent = profile.behavior, profile.preferences, profile.intent
    t, kind = event.timestamp, event.event_type
    hl = profile.half_life_seconds

    _track_session(profile, event)
    b.counts[kind] = b.counts.get(kind, 0) + 1
    if event.recommendation_id is not None:
        b.from_recommendations[kind] = b.from_recommendations.get(kind, 0) + 1
    b.first_seen = t if b.first_seen is None else min(b.first_seen, t)
    b.last_seen = t if b.last_seen is None else max(b.last_seen, t)

    if kind == "identify" and event.traits is not None:
        _merge_traits(profile.traits, event.traits.as_dict())
    if kind == "search" and event.query:
        _insert_bounded_sorted(intent.recent_queries, (t, event.query), MAX_QUERIES, key=lambda q: q)

    item_id = event.item_id
    if item_id is None:
        return
    _insert_bounded_sorted(
        b.recent,
        Interaction(t, kind, item_id, event.event_id, event.value, event.recommendation_id),
        MAX_RECENT,
        key=Interaction.sort_key,
    )
    if kind not in ("ad_impression", "remove_from_cart", "dislike"):
        _touch_bounded(b.interacted, item_id, t, MAX_INTERACTED)

    if kind in ("add_to_cart", "remove_from_cart", "purchase"):
        sign = 1 if kind == "add_to_cart" else -1
        intent.cart[item_id] = intent.cart.get(item_id, 0) + sign * event.quantity
        if intent.cart[item_id] == 0:
            del intent.cart[item_id]
        if len(intent.cart) > MAX_CART:  # drop the most negative (stale removals) first
            for key, _ in sorted(intent.cart.items(), key=lambda kv: (kv[1], kv[0]))[: len(intent.cart) - MAX_CART]:
                del intent.cart[key]
        intent.cart_updated_at = max(t, intent.cart_updated_at or t)
    if kind == "purchase":
        price = event.unit_price or 0.0
        b.total_spend += price * event.quantity
        b.units_purchased += event.quantity
        _touch_bounded(b.purchased, item_id, t, MAX_PURCHASED)
        intent.last_purchase_at = max(t, intent.last_purchase_at or t)

    weight = signal_weight(event)
    categories = event.item.categories if event.item else []
    p.items.add(item_id, weight, t, hl, MAX_ITEM_AFFINITIES)
    for cat in categories:
        p.categories.add(cat, weight / max(1, len(categories)) ** 0.5, t, hl, MAX_AFFINITIES)
        if weight > 0:
            intent.categories.add(cat, weight, t, INTENT_HALF_LIFE_SECONDS, MAX_AFFINITIES)
    if event.item is not None and event.item.brand:
        p.brands.add(event.item.brand, weight, t, hl, MAX_AFFINITIES)
    unit_price = event.unit_price
    if unit_price is not None:
        p.price_bands.add(price_band(unit_price), weight, t, hl, len(PRICE_BANDS))
