"""Segments for precise marketing, declared as data in ``segments.json`` and evaluated on every update.

A segment is a conjunction of conditions over profile *features* (below), evaluated at the profile's
own clock (its latest event), so replays of old logs give the same memberships as live traffic.
Some memberships change with time alone (a cart left for an hour, an account turning 7 days old, a
category affinity decaying below its threshold): ``assess`` also says when the next one is due, and
the scheduled segment refresher re-evaluates the profile then, at the wall clock.
Families generate one segment per value (``fan:<category>``). Marketing segments leave out users whose
risk score is flagged; ``risk_flagged`` itself is the audience for review.
"""

import json
import math
import operator
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel

from pulse.domain.profile import UserProfile
from pulse.domain.risk import is_flagged

Op = Literal["<", "<=", ">", ">=", "==", "!="]
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


class Condition(BaseModel):
    feature: str
    op: Op
    value: float | int | bool | str


class SegmentDefinition(BaseModel):
    name: str
    description: str
    rule: list[Condition]
    marketing: bool = True


class SegmentFamily(BaseModel):
    family: str
    pattern: str
    description: str
    top: int
    min_affinity: float
    marketing: bool = True


class SegmentCatalog(BaseModel):
    segments: list[SegmentDefinition]
    families: list[SegmentFamily]
    versions: dict[str, int] = {}  # runtime definitions' versions (built-in ones: 0)

    def reads(self) -> dict[str, list[str]]:
        """Segment -> the features its rule reads (what an activation event reports)."""
        return {s.name: [c.feature for c in s.rule] for s in self.segments}

    def family_of(self, segment: str) -> SegmentFamily | None:
        for fam in self.families:
            prefix = fam.pattern.split("{", 1)[0]
            if segment.startswith(prefix) and len(segment) > len(prefix):
                return fam
        return None

    def is_known(self, segment: str) -> bool:
        return any(s.name == segment for s in self.segments) or self.family_of(segment) is not None


@lru_cache(maxsize=1)
def builtin_catalog() -> SegmentCatalog:
    """The segments this release ships (``segments.json``): the starting set."""
    path = Path(__file__).with_name("segments.json")
    return SegmentCatalog.model_validate(json.loads(path.read_text()))


_PROVIDER: dict[str, Callable[[], SegmentCatalog]] = {}


def use_catalog(provider: Callable[[], SegmentCatalog] | None) -> None:
    """Where ``catalog()`` comes from: a function's wiring installs the runtime definitions' provider
    (``pulse.services.segment_definitions``); None goes back to the built-in set."""
    if provider is None:
        _PROVIDER.clear()
    else:
        _PROVIDER["catalog"] = provider


def catalog() -> SegmentCatalog:
    """The segments in force: the built-in ones with the definitions stored at runtime."""
    provider = _PROVIDER.get("catalog")
    return provider() if provider is not None else builtin_catalog()


def clock_of(profile: UserProfile, evaluated_at: float | None = None) -> float:
    """The clock segments are evaluated at: the profile's latest event, or a later evaluation's clock
    (the refresher's), so that a late event never moves a membership back in time."""
    own = profile.behavior.last_seen or profile.updated_at
    return own if evaluated_at is None else max(own, evaluated_at)


def _born(profile: UserProfile) -> float | None:
    signup = profile.traits.get("signup_at")
    return signup if isinstance(signup, float) else profile.behavior.first_seen


def features(profile: UserProfile, at: float | None = None) -> dict[str, Any]:
    """The flat facts segment rules are written against, at clock ``at`` (default: ``clock_of``)."""
    b, intent = profile.behavior, profile.intent
    now = clock_of(profile) if at is None else at
    born = _born(profile)
    impressions, clicks = b.counts.get("ad_impression", 0), b.counts.get("ad_click", 0)
    cart_items = profile.cart_lines()
    age = profile.traits.get("age")
    return {
        "account_age_days": None if born is None else (now - born) / 86400.0,
        "total_spend": b.total_spend,
        "purchases": b.counts.get("purchase", 0),
        "sessions": b.sessions,
        "return_gap_days": b.return_gap_seconds / 86400.0,
        "days_since_last_seen": None if b.last_seen is None else (now - b.last_seen) / 86400.0,
        "cart_items": cart_items,
        "hours_since_cart_activity": None
        if intent.cart_updated_at is None
        else (now - intent.cart_updated_at) / 3600.0,
        "purchased_since_cart": intent.last_purchase_at is not None
        and intent.cart_updated_at is not None
        and intent.last_purchase_at >= intent.cart_updated_at,
        "ad_clicks": clicks,
        "ad_ctr": clicks / impressions if impressions else (1.0 if clicks else 0.0),
        "age": age if isinstance(age, int | float) and not isinstance(age, bool) else None,
        "gender": profile.traits.get("gender"),
        "country": profile.traits.get("country"),
        "city": profile.traits.get("city"),
        "occupation": profile.traits.get("occupation"),
        "risk_score": profile.risk.score,
        "risk_flagged": is_flagged(profile),
    }


Check = tuple[str, Callable[[Any, Any], bool], Any]
# name, marketing, conditions on features that only events change, conditions on clock-driven features
Rule = tuple[str, bool, tuple[Check, ...], tuple[Check, ...]]
# Features that grow with the clock alone, and the seconds in one of their units.
TIMED_FEATURES = {"account_age_days": 86400.0, "hours_since_cart_activity": 3600.0, "days_since_last_seen": 86400.0}
# A membership changes at the crossing itself or just after it (``>`` / ``<`` against a decaying score):
# asking one second later finds it changed whichever the operator.
CROSSING_MARGIN_SECONDS = 1.0


class Compiled(NamedTuple):
    """A catalogue's rules as plain tuples (evaluated on every profile write, so kept cheap) and what
    each rule reads (for activation events), derived once per catalogue."""

    rules: list[Rule]
    reads: dict[str, list[str]]


_COMPILED: dict[int, tuple[SegmentCatalog, Compiled]] = {}


def _compiled(cat: SegmentCatalog) -> Compiled:
    found = _COMPILED.get(id(cat))
    if found is None or found[0] is not cat:
        _COMPILED.clear()  # one catalogue in force at a time: runtime definitions replace it
        rules = []
        for s in cat.segments:
            conds = [(c.feature, OPS[c.op], c.value) for c in s.rule]
            static = tuple(c for c in conds if c[0] not in TIMED_FEATURES)
            rules.append((s.name, s.marketing, static, tuple(c for c in conds if c[0] in TIMED_FEATURES)))
        found = _COMPILED[id(cat)] = (cat, Compiled(rules, cat.reads()))
    return found[1]


def rule_reads(cat: SegmentCatalog) -> dict[str, list[str]]:
    """Segment -> the features its rule reads, derived once per catalogue."""
    return _compiled(cat).reads


def _holds(conditions: tuple[Check, ...], feats: dict[str, Any]) -> bool:
    for feature, op, value in conditions:
        actual = feats.get(feature)
        if actual is None:
            return False
        try:
            if not op(actual, value):
                return False
        except TypeError:
            return False
    return True


class Assessment(NamedTuple):
    segments: list[str]  # sorted
    due_at: float | None  # the earliest time after the clock when a membership can change with no event
    features: dict[str, Any]  # the features at that clock (what activation events report)


def assess(profile: UserProfile, at: float | None = None, cat: SegmentCatalog | None = None) -> Assessment:
    """The segments the profile is in at clock ``at`` (default: ``clock_of``), sorted, the earliest
    time after ``at`` when a membership can change with no new event (None: not before the next event),
    and the features they were decided on.

    Only clock-driven features can change with no event: a timed feature crossing a rule's value in a
    segment whose other conditions hold (they cannot change without events), and a family's category
    affinity decaying below its threshold (all affinities decay at the same rate, so their order stays).
    A flagged user's marketing segments stay closed until an event changes the risk score.
    """
    cat = cat or catalog()
    now = clock_of(profile) if at is None else at
    feats = features(profile, now)
    flagged = feats["risk_flagged"]
    origins = {
        "account_age_days": _born(profile),
        "hours_since_cart_activity": profile.intent.cart_updated_at,
        "days_since_last_seen": profile.behavior.last_seen,
    }
    names: list[str] = []
    due: list[float] = []
    compiled = _compiled(cat)
    for name, marketing, static, timed in compiled.rules:
        if (marketing and flagged) or not _holds(static, feats):
            continue
        if not timed or _holds(timed, feats):
            names.append(name)
        for feature, _, value in timed:
            origin = origins[feature]
            if origin is not None and isinstance(value, int | float):
                crossing = origin + value * TIMED_FEATURES[feature]
                if crossing > now:
                    due.append(crossing)
    if not flagged:
        hl = profile.half_life_seconds
        scores = profile.preferences.categories
        for fam in cat.families:
            if fam.min_affinity > 0:
                for category, score in scores.top_at_least(fam.top, fam.min_affinity, now, hl):
                    names.append(fam.pattern.format(category=category))
                    due.append(now + hl * math.log2(score / fam.min_affinity))
            else:
                names += [
                    fam.pattern.format(category=c) for c, v in scores.top(fam.top, now, hl) if v >= fam.min_affinity
                ]
    due_at = min(due) + CROSSING_MARGIN_SECONDS if due else None
    return Assessment(sorted(set(names)), due_at, feats)


def evaluate(profile: UserProfile, cat: SegmentCatalog | None = None, at: float | None = None) -> list[str]:
    """Names of the segments the profile is in at clock ``at`` (default: ``clock_of``), sorted."""
    return assess(profile, at, cat).segments
