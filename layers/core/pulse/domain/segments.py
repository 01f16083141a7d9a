"""Segments for precise marketing, declared as data in ``segments.json`` and evaluated on every update.

A segment is a conjunction of conditions over profile *features* (below), evaluated at the profile's
own clock (its latest event), so replays of old logs give the same memberships as live traffic.
Some memberships change with time alone (a cart left for an hour, an account turning 7 days old, a
category affinity decaying below its threshold): ``next_change`` says when the next one is due, and
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
from typing import Any, Literal

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

    def describe(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [
            {
                "name": s.name,
                "description": s.description,
                "marketing": s.marketing,
                "rule": [c.model_dump() for c in s.rule],
            }
            for s in self.segments
        ]
        return out

    def family_of(self, segment: str) -> SegmentFamily | None:
        for fam in self.families:
            prefix = fam.pattern.split("{", 1)[0]
            if segment.startswith(prefix) and len(segment) > len(prefix):
                return fam
        return None

    def is_known(self, segment: str) -> bool:
        return any(s.name == segment for s in self.segments) or self.family_of(segment) is not None


@lru_cache(maxsize=1)
def catalog() -> SegmentCatalog:
    path = Path(__file__).with_name("segments.json")
    return SegmentCatalog.model_validate(json.loads(path.read_text()))


def clock_of(profile: UserProfile, evaluated_at: float | None = None) -> float:
    """The clock segments are evaluated at: the profile's latest event, or a later evaluation's clock
    (the refresher's), so that a late event never moves a membership back in time."""
    own = profile.behavior.last_seen or profile.updated_at
    return own if evaluated_at is None else max(own, evaluated_at)


def _born(profile: UserProfile) -> float | None:
    signup = profile.traits.get("signup_at")
    return signup if isinstance(signup, float) else profile.behavior.first_seen


def _time_features(profile: UserProfile) -> dict[str, tuple[float | None, float]]:
    """Features that grow with the clock alone: their origin and the seconds in one unit."""
    return {
        "account_age_days": (_born(profile), 86400.0),
        "hours_since_cart_activity": (profile.intent.cart_updated_at, 3600.0),
    }


def features(profile: UserProfile, at: float | None = None) -> dict[str, Any]:
    """The flat facts segment rules are written against, at clock ``at`` (default: ``clock_of``)."""
    b, intent = profile.behavior, profile.intent
    now = clock_of(profile) if at is None else at
    born = _born(profile)
    impressions, clicks = b.counts.get("ad_impression", 0), b.counts.get("ad_click", 0)
    cart_items = len(profile.cart_items())
    age = profile.traits.get("age")
    return {
        "account_age_days": None if born is None else (now - born) / 86400.0,
        "total_spend": b.total_spend,
        "purchases": b.counts.get("purchase", 0),
        "sessions": b.sessions,
        "return_gap_days": b.return_gap_seconds / 86400.0,
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
        "risk_score": profile.risk.score,
        "risk_flagged": is_flagged(profile),
    }


Compiled = list[tuple[str, bool, tuple[tuple[str, Callable[[Any, Any], bool], Any], ...]]]
_COMPILED: dict[int, tuple[SegmentCatalog, Compiled]] = {}


def _compiled(cat: SegmentCatalog) -> Compiled:
    """The catalog's rules as plain tuples: evaluated on every profile write, so kept cheap."""
    found = _COMPILED.get(id(cat))
    if found is None or found[0] is not cat:
        rules = [(s.name, s.marketing, tuple((c.feature, OPS[c.op], c.value) for c in s.rule)) for s in cat.segments]
        found = _COMPILED[id(cat)] = (cat, rules)
    return found[1]


def _holds(conditions: tuple[tuple[str, Callable[[Any, Any], bool], Any], ...], feats: dict[str, Any]) -> bool:
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


def evaluate(profile: UserProfile, cat: SegmentCatalog | None = None, at: float | None = None) -> list[str]:
    """Names of the segments the profile is in at clock ``at`` (default: ``clock_of``), sorted."""
    cat = cat or catalog()
    now = clock_of(profile) if at is None else at
    feats = features(profile, now)
    flagged = feats["risk_flagged"]
    names = [
        name for name, marketing, conds in _compiled(cat) if (not marketing or not flagged) and _holds(conds, feats)
    ]
    if not flagged:
        for fam in cat.families:
            for category, score in profile.preferences.categories.top(fam.top, now, profile.half_life_seconds):
                if score >= fam.min_affinity:
                    names.append(fam.pattern.format(category=category))
    return sorted(set(names))


# A membership changes at the crossing itself or just after it (``>`` / ``<`` against a decaying score):
# asking one second later finds it changed whichever the operator.
CROSSING_MARGIN_SECONDS = 1.0


def next_change(profile: UserProfile, at: float, cat: SegmentCatalog | None = None) -> float | None:
    """The earliest time after ``at`` when a membership can change with no new event, or None.

    Only features that move with the clock can change then: a time feature crossing a rule's value in
    a segment whose other conditions hold (they cannot change without events), and a family's category
    affinity decaying below its threshold (all affinities decay at the same rate, so their order stays).
    """
    cat = cat or catalog()
    feats = features(profile, at)
    if feats["risk_flagged"]:  # marketing segments are closed to the user until an event changes that
        candidates = []
        rules = [(name, conds) for name, marketing, conds in _compiled(cat) if not marketing]
    else:
        rules = [(name, conds) for name, _, conds in _compiled(cat)]
        candidates = [
            at + profile.half_life_seconds * math.log2(score / fam.min_affinity)
            for fam in cat.families
            if fam.min_affinity > 0
            for _, score in profile.preferences.categories.top(fam.top, at, profile.half_life_seconds)
            if score >= fam.min_affinity
        ]
    timed = _time_features(profile)
    for _, conds in rules:
        if not _holds(tuple(c for c in conds if c[0] not in timed), feats):
            continue
        for feature, _, value in conds:
            origin, unit = timed.get(feature, (None, 0.0))
            if origin is not None and isinstance(value, int | float) and origin + value * unit > at:
                candidates.append(origin + value * unit)
    return min(candidates) + CROSSING_MARGIN_SECONDS if candidates else None
