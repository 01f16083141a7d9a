"""The synthetic e-commerce log: valid contract events, time-ordered, deterministic, with bots."""

from collections import Counter

from pulse.domain.events import parse_event
from training.synthetic import Shape, generate

SHAPE = Shape(users=200, items=300, events=5_000)


def test_events_are_valid_time_ordered_and_deterministic() -> None:
    events = list(generate(SHAPE, seed=3))
    assert len(events) == 5_000
    parsed = [parse_event(e, now=4e9) for e in events]
    assert [p.timestamp for p in parsed] == sorted(p.timestamp for p in parsed)
    assert events == list(generate(SHAPE, seed=3))
    assert events != list(generate(SHAPE, seed=4))
    kinds = Counter(e["event_type"] for e in events)
    assert {"identify", "view", "add_to_cart", "purchase", "search", "ad_impression", "ad_click"} <= set(kinds)
    assert all("value" in e for e in events if e["event_type"] == "purchase")


def test_bots_click_ads_far_faster_than_humans() -> None:
    events = list(generate(SHAPE, seed=1))
    clicks = Counter(e["user_id"] for e in events if e["event_type"] == "ad_click")
    impressions = Counter(e["user_id"] for e in events if e["event_type"] == "ad_impression")
    bots = [u for u, n in clicks.items() if n >= 20 and impressions[u] == 0]
    assert bots
