"""Segment definitions at runtime: rules validated with the reason, merged over the built-in set,
picked up on refresh, and a changed definition's background pass over every profile (resumable)
ending with the audience a fresh evaluation of every profile gives."""

from typing import Any

import pytest

from pulse.domain import segments
from pulse.domain.profile import UserProfile
from pulse.domain.segment_rules import FEATURE_KINDS, RawCondition, SegmentBody, StoredSegment, validate_rule
from pulse.errors import InvalidRequest, UnknownSegment
from pulse.ports import SegmentDefinitions, StoreConflict
from pulse.services import segment_definitions as defs
from pulse.services.ingest import process_batch
from tests.fakes import MemoryDeadLetters, MemoryProfileStore
from tests.unit.test_ingest import NOW, T0, records


class MemoryDefinitions(SegmentDefinitions):
    def __init__(self) -> None:
        self.items: dict[str, StoredSegment] = {}
        self.reads = 0

    def stored(self) -> list[StoredSegment]:
        self.reads += 1
        return [s.model_copy(deep=True) for s in self.items.values()]

    def put(self, segment: StoredSegment, expected_version: int | None) -> None:
        current = self.items.get(segment.name)
        if (current.version if current else None) != expected_version:
            raise StoreConflict(segment.name)
        self.items[segment.name] = segment.model_copy(deep=True)


@pytest.fixture
def runtime() -> Any:
    store = MemoryDefinitions()
    catalog = defs.RuntimeCatalog(store, refresh_seconds=30, clock=lambda: 0.0)
    segments.use_catalog(catalog)
    yield store, catalog
    segments.use_catalog(None)


def body(*conditions: tuple[str, str, Any], **extra: Any) -> SegmentBody:
    return SegmentBody(rule=[RawCondition(feature=f, op=o, value=v) for f, o, v in conditions], **extra)


def test_the_offered_features_are_those_segments_compute() -> None:
    assert set(FEATURE_KINDS) == set(segments.features(UserProfile.new("u", T0, 14.0)))


@pytest.mark.parametrize(
    ("condition", "reason"),
    [
        (("lifetime_value", ">", 3), "unknown feature 'lifetime_value'; features are account_age_days"),
        (("purchases", "=~", 3), "unknown operator '=~'; operators are < <= > >= == !="),
        (("purchases", ">", "many"), "purchases is a number; compare it with a number"),
        (("purchases", ">", True), "purchases is a number"),
        (("risk_flagged", "<", True), "risk_flagged is boolean: use == or !=, not <"),
        (("country", "==", 3), "country is text; compare it with a string"),
    ],
)
def test_rules_are_refused_with_the_reason(condition: tuple[str, str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match="condition 1: " + reason.replace("*", r"\*").replace("+", r"\+")[:40]):
        validate_rule(body(condition).rule)


def test_stored_definitions_add_replace_and_remove_and_are_picked_up_on_refresh(runtime: Any) -> None:
    store, catalog = runtime
    defs.put_segment(store, catalog, "big_spenders", body(("total_spend", ">=", 1000)), T0)
    defs.put_segment(store, catalog, "new_users", body(("account_age_days", "<", 3)), T0)
    defs.delete_segment(store, catalog, "age_under_25", T0)
    cat = segments.catalog()
    names = {s.name for s in cat.segments}
    assert "big_spenders" in names and "age_under_25" not in names
    assert next(s for s in cat.segments if s.name == "new_users").rule[0].value == 3
    with pytest.raises(InvalidRequest, match="unknown feature"):
        defs.put_segment(store, catalog, "bad", body(("shoe_size", ">", 40)), T0)
    with pytest.raises(UnknownSegment):
        defs.delete_segment(store, catalog, "never_defined", T0)
    reads = store.reads
    store.items.pop("big_spenders")  # another container deleted it: seen after the refresh interval
    assert "big_spenders" in {s.name for s in segments.catalog().segments} and store.reads == reads
    catalog.clock = lambda: 31.0
    assert "big_spenders" not in {s.name for s in segments.catalog().segments}


class KeyScan:
    """Every user id after a position, with the position to go on from (as DynamoDB's Scan pages)."""

    def __init__(self, users: list[str], start: dict[str, Any] | None) -> None:
        self.users, self.at = users, (start or {}).get("i", 0)

    def __iter__(self):
        for i in range(self.at, len(self.users)):
            self.at = i + 1
            yield self.users[i]

    @property
    def resume_key(self) -> dict[str, Any] | None:
        return {"i": self.at} if self.at < len(self.users) else None


def spend(user: str, i: int, price: float) -> dict[str, Any]:
    """Under 1,000 a purchase: a new account buying more at once is a risk flag (no marketing segment)."""
    return {
        "event_id": f"{user}-{i}",
        "event_type": "purchase",
        "user_id": user,
        "timestamp": T0 + i,
        "item_id": f"i{i}",
        "value": price,
    }


def test_a_new_definition_fills_from_existing_profiles_resumably(runtime: Any) -> None:
    store, catalog = runtime
    profiles = MemoryProfileStore()
    payloads = [spend(f"u{n:02d}", 3 * n + k, 20.0 * n) for n in range(40) for k in range(3)]
    process_batch(records(payloads), profiles, MemoryDeadLetters(), half_life_days=14, now=NOW)
    defs.put_segment(store, catalog, "spent_1000", body(("total_spend", ">=", 1200)), NOW)
    users = sorted(profiles.items)
    scan = lambda start: KeyScan(users, start)  # noqa: E731
    assert defs.evaluate_pending(store, profiles, scan, profiles, NOW + 1, settle_seconds=30).scanned == 0  # settling
    clock = iter([100.0] * 15 + [0.0] * 100)  # time runs out after 15 profiles
    first = defs.evaluate_pending(store, profiles, scan, profiles, NOW + 60, 30, seconds_left=lambda: next(clock))
    assert first.scanned == 15 and not first.finished
    assert store.items["spent_1000"].evaluation.status == "running"
    rest = defs.evaluate_pending(store, profiles, scan, profiles, NOW + 120, 30)
    assert rest.scanned == 25 and rest.finished == ["spent_1000"]
    evaluation = store.items["spent_1000"].evaluation
    assert (evaluation.status, evaluation.scanned) == ("done", 40)
    expected = {u for u in users if "spent_1000" in segments.evaluate(profiles.profile(u))}
    assert set(profiles.members_page("spent_1000")) == expected == {f"u{n:02d}" for n in range(20, 40)}
    described = defs.describe(catalog, profiles, "spent_1000")
    assert described["member_count"] == 20 and described["version"] == 1 and not described["builtin"]
    assert "resume" not in described["evaluation"]
