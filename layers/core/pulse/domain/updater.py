"""Applying a user's events exactly once: the pure core of the profile updater.

Idempotency state lives with the profile and is written in the same conditional write:
- ``applied``: per shard, the highest Kinesis sequence number already folded in. A re-delivered record
  (Lambda retry, bisection, checkpoint replay) has a number at or below it and is skipped. Sequence
  numbers are compared as integers (moto numbers them 1, 2, 3; AWS uses 56-digit numbers).
- ``recent_event_ids``: the last ``MAX_EVENT_IDS`` event ids; a producer duplicate (same ``event_id``,
  a new record) is skipped.

With them: ``segments_clock``, the latest clock segments were evaluated at (the refresher evaluates
at the wall clock, updates at the latest event's time), and ``due_at``, when a membership next changes
with time alone (``segments.assess``); the store indexes it so the refresher finds those profiles.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec

from pulse.domain import risk, segments
from pulse.domain.activation import Notice, membership_notices, risk_notice
from pulse.domain.events import BehaviorEvent
from pulse.domain.experiments import day_of, outcome_of
from pulse.domain.profile import UserProfile, apply_event

MAX_EVENT_IDS = 256
MAX_EXPERIMENTS = 20  # a user's per-variant outcome totals kept (the oldest experiment's go first)
# An applied event's recommendation id -> (experiment, variant) when an experiment issued it.
Attribution = Callable[[str], tuple[str, str] | None]


@dataclass(frozen=True, order=True)
class StreamPosition:
    shard_id: str
    sequence_number: int

    def __str__(self) -> str:
        return f"{self.shard_id}/{self.sequence_number}"


@dataclass(frozen=True)
class PositionedEvent:
    event: BehaviorEvent
    position: StreamPosition | None = None


@dataclass(slots=True)
class ProfileState:
    """What is stored for one user: the profile plus its idempotency state."""

    profile: UserProfile
    applied: dict[str, str] = field(default_factory=dict)  # shard id -> sequence number (decimal string)
    recent_event_ids: list[str] = field(default_factory=list)
    segments_clock: float | None = None
    due_at: float | None = None
    # "<experiment>/<variant>" -> [clicks, conversions, revenue] this user's attributed outcomes
    experiments: dict[str, list[float]] = field(default_factory=dict)

    def redelivered(self, position: StreamPosition | None) -> bool:
        """At or below this shard's high-water mark: the record was applied before."""
        if position is None:
            return False
        mark = self.applied.get(position.shard_id)
        return mark is not None and position.sequence_number <= int(mark)


# Plain dataclasses keep the hot path fast; msgspec checks types while it decodes (unknown fields from
# older versions are ignored, missing ones take their defaults) and writes the same JSON pydantic did,
# about 2.8x faster each way on a grown profile (docs/decisions/0010-profile-codec.md).
_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(ProfileState)


def dump_state(state: ProfileState) -> bytes:
    return _ENCODER.encode(state)


def load_state(data: bytes | str) -> ProfileState:
    """The state ``dump_state`` wrote; a ``ValueError`` (msgspec's errors are ones) if it is not one."""
    return _DECODER.decode(data)


@dataclass
class ProfileUpdate:
    """The outcome of applying one user's events from one batch."""

    state: ProfileState
    applied: int = 0
    skipped: int = 0
    attributed: int = 0  # applied events that carried a recommendation_id
    joined: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    events: list[BehaviorEvent] = field(default_factory=list)  # those applied, for live popularity
    # (experiment, variant, day) -> counter increments, written with the profile (exactly once)
    outcomes: dict[tuple[str, str, str], dict[str, float]] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)  # membership and risk changes, for the outbox

    @property
    def changed(self) -> bool:
        return self.applied > 0


def apply_user_events(
    state: ProfileState | None,
    user_id: str,
    events: Sequence[PositionedEvent],
    now: float,
    half_life_days: float,
    impressions_tracked: bool = True,
    attribution: Attribution | None = None,
    after_version: int = 0,
) -> ProfileUpdate:
    """Fold ``events`` (one user's, in stream order) into ``state``, in place, and return the update.

    Callers pass a freshly loaded state (the store decodes a new object on every load), so no copy is
    made: copying a large profile cost more than applying a batch to it. ``now`` is the processor's
    clock; it only stamps ``created_at`` / ``updated_at``. ``attribution`` names the experiment variant
    behind an event's ``recommendation_id``; its outcome is added to ``update.outcomes``. A new
    profile's versions start after ``after_version`` (the tombstone it replaces): a stored item's
    version never repeats, which the updater's cache of written profiles relies on.
    """
    if state is None:
        state = ProfileState(profile=UserProfile.new(user_id, now, half_life_days))
        state.profile.version = after_version
    profile = state.profile
    before = list(profile.segments)
    risk_before = (profile.risk.score, list(profile.risk.flags))
    update = ProfileUpdate(state=state)
    seen_ids = set(state.recent_event_ids)
    for item in events:
        if item.event.user_id != user_id:
            raise ValueError(f"event {item.event.event_id} belongs to {item.event.user_id}, not {user_id}")
        if state.redelivered(item.position) or item.event.event_id in seen_ids:
            update.skipped += 1
        else:
            apply_event(profile, item.event)
            risk.observe(profile, item.event)
            seen_ids.add(item.event.event_id)
            state.recent_event_ids.append(item.event.event_id)
            update.applied += 1
            update.attributed += item.event.recommendation_id is not None
            update.events.append(item.event)
            if attribution is not None and item.event.recommendation_id is not None:
                _attribute(state, update, item.event, attribution)
        pos = item.position
        if pos is not None:
            mark = state.applied.get(pos.shard_id)
            if mark is None or pos.sequence_number > int(mark):
                state.applied[pos.shard_id] = str(pos.sequence_number)
    del state.recent_event_ids[:-MAX_EVENT_IDS]
    if update.applied:
        risk.assess(profile, impressions_tracked)
        _evaluate_segments(state, segments.clock_of(profile, state.segments_clock), now, update, before)
        after = (profile.risk.score, list(profile.risk.flags))
        notice = risk_notice(user_id, profile.version, risk_before, after, segments.clock_of(profile))
        if notice is not None:
            update.notices.append(notice)
    return update


def _attribute(state: ProfileState, update: ProfileUpdate, event: BehaviorEvent, attribution: Attribution) -> None:
    """Count an event's outcome for the variant whose answer led to it. The user's own totals make the
    distinct-user counts (clickers, converters) and the revenue's sum of squares exact."""
    outcome = outcome_of(event)
    found = attribution(event.recommendation_id or "") if outcome.counts else None
    if found is None:
        return
    key = "/".join(found)
    mine = state.experiments.pop(key, [0.0, 0.0, 0.0])  # re-inserted last: the newest experiments are kept
    state.experiments[key] = mine
    while len(state.experiments) > MAX_EXPERIMENTS:
        del state.experiments[next(iter(state.experiments))]
    delta = update.outcomes.setdefault((*found, day_of(event.timestamp)), {})
    clicks, conversions, revenue = mine
    add = {
        "clicks": outcome.clicks,
        "clickers": int(clicks == 0 and outcome.clicks > 0),
        "conversions": outcome.conversions,
        "converters": int(conversions == 0 and outcome.conversions > 0),
        "revenue": outcome.revenue,
        "revenue_sq": 2 * revenue * outcome.revenue + outcome.revenue**2,
    }
    for name, value in add.items():
        if value:
            delta[name] = delta.get(name, 0) + value
    state.experiments[key] = [clicks + outcome.clicks, conversions + outcome.conversions, revenue + outcome.revenue]


def refresh_segments(state: ProfileState, now: float, force: bool = False) -> ProfileUpdate | None:
    """Re-evaluate a profile's segments at the wall clock ``now`` once a time-only change is due
    (``state.due_at``), or at once with ``force`` (the rules changed; the profile predates due times);
    None if it is not due. The caller writes the update like an event's."""
    if not force and (state.due_at is None or state.due_at > now):
        return None
    update = ProfileUpdate(state=state)
    _evaluate_segments(state, segments.clock_of(state.profile, max(now, state.segments_clock or now)), now, update)
    return update


def _evaluate_segments(
    state: ProfileState, clock: float, now: float, update: ProfileUpdate, before: list[str] | None = None
) -> None:
    profile = state.profile
    before = list(profile.segments) if before is None else before
    cat = segments.catalog()
    found = segments.assess(profile, at=clock, cat=cat)
    profile.segments, state.due_at = found.segments, found.due_at
    state.segments_clock = clock
    profile.version += 1
    profile.updated_at = max(now, profile.updated_at)
    if profile.segments == before:
        return
    now_in, was_in = set(profile.segments), set(before)
    update.joined = sorted(now_in - was_in)
    update.left = sorted(was_in - now_in)
    update.notices += membership_notices(
        profile.user_id,
        profile.version,
        update.joined,
        update.left,
        clock,
        cat.versions,
        found.features,
        segments.rule_reads(cat),
    )
