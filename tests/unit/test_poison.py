"""Valid-looking events that used to break a profile, a shard or the door: each is refused with its
reason, and the batch's other users are applied exactly once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pulse.domain.events import InvalidEvent, parse_event
from pulse.http.errors import json_depth, unsupported_media_type
from pulse.services.collect import collect
from pulse.services.ingest import StreamRecord, process_batch
from tests.fakes import MemoryDeadLetters, MemoryProfileStore, MemoryPublisher, RefusingStore

NOW = 1_760_000_000.0


def event(user: str = "u", i: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"{user}-{i}",
        "event_type": "view",
        "user_id": user,
        "timestamp": NOW - 60,
        "item_id": "x",
    } | extra


def reason_of(raw: dict[str, Any]) -> str:
    with pytest.raises(InvalidEvent) as err:
        parse_event(json.dumps(raw).encode(), now=NOW)
    return err.value.reason


def test_numbers_that_would_overflow_a_profile_are_refused_at_the_door() -> None:
    assert "value" in reason_of(event(event_type="purchase", value=1e305, quantity=10_000))
    assert "price" in reason_of(event(item={"price": 1e300}))
    # the largest accepted purchase keeps the spend finite however often it repeats
    biggest = parse_event(json.dumps(event(event_type="purchase", value=1e7, quantity=10_000)), now=NOW)
    assert biggest.value == 1e7 and biggest.quantity == 10_000


@pytest.mark.parametrize(
    "timestamp", [0, -5, 600_000_000, "1970-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
)
def test_timestamps_outside_the_documented_range_are_refused(timestamp: Any) -> None:
    reason = reason_of(event(timestamp=timestamp, item={"category": "Books"}))
    assert "timestamp" in reason and ("1990" in reason or "ahead" in reason or "ISO-8601" in reason)


def test_signup_times_have_the_same_lower_bound() -> None:
    raw = event(event_type="identify", item_id=None, traits={"signup_at": "1969-12-31T23:00:00Z"})
    assert "1990" in reason_of({k: v for k, v in raw.items() if v is not None})


def test_deeply_nested_item_fields_are_refused_the_same_way_by_the_collector_and_the_updater() -> None:
    nested: Any = "leaf"
    for _ in range(400):
        nested = [nested]
    raw = event(item={"category": "Books", "tags": nested})
    stream = MemoryPublisher()
    result = collect(stream, [raw, event("ok")], now=NOW)
    assert result.accepted == 1 and "nests" in result.rejected[0].error and len(stream.records) == 1
    assert "nests" in reason_of(raw)  # what the updater would say of the same bytes
    shallow = event(item={"tags": [["a", "b"], {"k": [1]}]})
    assert parse_event(json.dumps(shallow), now=NOW).item is not None


def test_a_body_nested_thousands_deep_is_a_400_not_a_server_error() -> None:
    deep = '{"events": ' + "[" * 5000 + "]" * 5000 + "}"
    answer = unsupported_media_type({"body": deep, "headers": {"Content-Type": "application/json"}})
    assert answer is not None and answer["statusCode"] == 400 and "deeper" in answer["body"]
    assert json_depth('{"a": "[[[[", "b": [1, {"c": []}]}') == 4  # brackets inside strings do not count
    assert unsupported_media_type({"body": json.dumps({"events": [event()]}), "headers": {}}) is None


def record(n: int, payload: dict[str, Any]) -> StreamRecord:
    return StreamRecord("shardId-0", str(100 + n), json.dumps(payload).encode(), partition_key=payload["user_id"])


def test_a_write_the_store_refuses_for_good_dead_letters_that_users_records_and_the_shard_goes_on() -> None:
    store, letters = MemoryProfileStore(), MemoryDeadLetters()
    records = [
        record(0, event("ann", 1)),
        record(1, event("big", 2)),
        record(2, event("cat", 3)),
        record(3, event("big", 4)),
    ]
    outcome = process_batch(records, RefusingStore(store, "big"), letters, half_life_days=14, now=NOW)
    # Then nothing is retried (a refusal for good is not transient), the others are applied once...
    assert outcome.failed == set() and outcome.applied == 2 and outcome.dead_lettered == 2
    assert store.profile("ann") is not None and store.profile("cat") is not None and store.profile("big") is None
    # ...and each of big's records is a dead letter with the reason and its original bytes
    assert [json.loads(x.payload)["event_id"] for x in letters.letters] == ["big-2", "big-4"]
    assert all("cannot be read or stored" in x.reason and "ValidationException" in x.reason for x in letters.letters)


def test_if_the_dead_letters_cannot_take_them_the_shard_is_retried_from_there() -> None:
    store = MemoryProfileStore()
    records = [record(0, event("ann", 1)), record(1, event("big", 2)), record(2, event("cat", 3))]
    outcome = process_batch(records, RefusingStore(store, "big"), MemoryDeadLetters(fail=True), 14, now=NOW)
    assert outcome.failed == {"101", "102"} and store.profile("ann") is not None


class _Undecodable(MemoryProfileStore):
    """One stored profile cannot be read back (as a profile written by a broken release)."""

    def load(self, user_id: str) -> Any:
        if user_id == "broken":
            raise ValueError("profile state cannot be decoded")
        return super().load(user_id)


def test_the_refresher_isolates_a_profile_it_cannot_refresh_and_goes_on() -> None:
    from pulse.domain.updater import PositionedEvent, apply_user_events
    from pulse.services.segment_refresh import profile_letter, refresh_due_segments

    store = _Undecodable()
    for user in ("broken", "cart"):  # both left a cart an hour ago: both due
        cart = parse_event(json.dumps(event(user, event_type="add_to_cart", timestamp=NOW - 7200)), now=NOW)
        store.save(apply_user_events(None, user, [PositionedEvent(cart)], now=NOW, half_life_days=14), None)
    failures: list[tuple[str, str]] = []
    outcome = refresh_due_segments(store, store, now=NOW, on_failure=lambda u, exc: failures.append((u, str(exc))))
    assert (outcome.due, outcome.refreshed, outcome.failed) == (2, 1, 1)
    assert store.members_page("cart_abandoners") == ["cart"] and failures == [
        ("broken", "profile state cannot be decoded")
    ]
    letter = profile_letter("broken", "segment refresh failed: ValueError: ...")
    assert json.loads(letter.payload) == {"user_id": "broken", "failed": "segment_refresh"}


def test_identify_events_with_ever_new_traits_cannot_grow_a_profile_without_bound() -> None:
    from pulse.adapters.codec import encode_state
    from pulse.domain.updater import PositionedEvent, apply_user_events

    events = []
    for n in range(200):  # 200 identify events of 50 new custom traits each, near the 10 KB event limit
        traits = {f"t{n}_{k}": "v" * 150 for k in range(50)} | {"country": f"C{n}"}
        raw = event(i=n, event_type="identify", traits=traits, timestamp=NOW - 1000 + n)
        events.append(
            PositionedEvent(parse_event(json.dumps({k: v for k, v in raw.items() if k != "item_id"}), now=NOW))
        )
    state = apply_user_events(None, "u", events, now=NOW, half_life_days=14).state
    held = state.profile.traits
    assert len(held) == 51 and held["country"] == "C199"  # known traits keep updating
    assert len(encode_state(state)) < 64 * 1024
