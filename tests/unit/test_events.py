"""The event contract (section 1): every rule, on the one event model."""

import json

import pytest

from pulse.domain.events import MAX_EVENT_BYTES, InvalidEvent, parse_event

NOW = 1_717_243_200.0


def ev(**fields):
    base = {"event_id": "e1", "event_type": "view", "user_id": "u-1", "timestamp": NOW, "item_id": "i1"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def reason(payload) -> str:
    with pytest.raises(InvalidEvent) as err:
        parse_event(payload, now=NOW)
    return err.value.reason


@pytest.mark.parametrize(
    ("event_type", "extra"),
    [
        ("view", {}),
        ("click", {}),
        ("add_to_cart", {"quantity": 2}),
        ("remove_from_cart", {}),
        ("purchase", {"value": 9.5}),
        ("rate", {"value": 4}),
        ("like", {}),
        ("dislike", {}),
        ("search", {"item_id": None, "query": "red shoes"}),
        ("ad_impression", {"campaign_id": "c"}),
        ("ad_click", {"campaign_id": "c"}),
        ("identify", {"item_id": None, "traits": {"age": 30}}),
    ],
)
def test_every_event_type_is_accepted(event_type, extra) -> None:
    assert parse_event(ev(event_type=event_type, **extra), now=NOW).event_type == event_type


def test_timestamps_iso_with_offset_or_epoch() -> None:
    assert parse_event(ev(timestamp="2024-06-01T12:00:00Z"), now=NOW).timestamp == NOW
    assert parse_event(ev(timestamp="2024-06-01T14:00:00+02:00"), now=NOW).timestamp == NOW
    assert parse_event(ev(timestamp=NOW - 5), now=NOW).timestamp == NOW - 5
    assert "offset" in reason(ev(timestamp="2024-06-01T12:00:00"))
    assert "ahead" in reason(ev(timestamp=NOW + 301))
    assert parse_event(ev(timestamp=NOW + 299), now=NOW)
    assert "timestamp" in reason(ev(timestamp=True))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"event_id": ""}, "event_id"),
        ({"event_id": "x" * 129}, "event_id"),
        ({"event_type": "teleport"}, "event_type"),
        ({"user_id": "has space"}, "user_id"),
        ({"user_id": "u" * 129}, "user_id"),
        ({"item_id": None}, "item_id is required"),
        ({"event_type": "search", "item_id": None}, "query is required"),
        ({"event_type": "identify", "item_id": None}, "traits is required"),
        ({"event_type": "rate"}, "between 1 and 5"),
        ({"event_type": "rate", "value": 6}, "between 1 and 5"),
        ({"event_type": "purchase", "value": -1}, "negative"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"query": "q" * 513, "event_type": "search"}, "query"),
        ({"traits": {"age": 121}, "event_type": "identify"}, "age"),
        ({"sesion_id": "typo"}, "sesion_id"),
        ({"context": {"device": 3}}, "context"),
        ({"item": {"price": -3}}, "price"),
        ({"value": float("nan")}, "value"),
        ({"event_type": "rate", "value": True}, "not true/false"),  # JSON true is not a rating of 1
        ({"item": {"price": False}}, "item.price"),
        ({"traits": {"age": True}, "event_type": "identify"}, "traits.age"),
    ],
)
def test_invalid_events_are_refused_with_a_reason(fields, expected) -> None:
    assert expected in reason(ev(**fields))


def test_custom_traits_are_bounded() -> None:
    traits = {f"t{i}": i for i in range(50)}
    assert parse_event(ev(event_type="identify", item_id=None, traits=traits), now=NOW)
    traits["t50"] = 1
    assert "50 custom traits" in reason(ev(event_type="identify", item_id=None, traits=traits))
    assert "string, number or boolean" in reason(ev(event_type="identify", item_id=None, traits={"x": [1]}))


def test_raw_payloads_too_large_not_json_or_not_objects() -> None:
    big = json.dumps(ev(query="q", context={"pad": "x" * 500} | {f"k{i}": "y" * 500 for i in range(20)}))
    assert len(big) > MAX_EVENT_BYTES
    assert "limit" in reason(big.encode())
    assert "not UTF-8 JSON" in reason(b"\xff\xfe")
    assert "not UTF-8 JSON" in reason("{nope")
    assert "JSON object" in reason("[1, 2]")


def test_item_context_categories_and_extra_metadata() -> None:
    event = parse_event(ev(item={"category": "Books", "title": "Dune"}), now=NOW)
    assert event.item is not None and event.item.categories == ["Books"]
    assert event.item.model_extra == {"title": "Dune"}
    assert "category" in reason(ev(item={"category": [""]}))
