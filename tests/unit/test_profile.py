"""How events change a profile: behaviour, preferences, intent, segments, risk, bounds."""

import json
import random
from typing import Any

import pytest

from pulse.adapters.codec import encode_state
from pulse.domain import risk
from pulse.domain.events import EVENT_TYPES, parse_event
from pulse.domain.profile import UserProfile, apply_event
from pulse.domain.updater import (
    PositionedEvent,
    ProfileState,
    StreamPosition,
    apply_user_events,
    dump_state,
    load_state,
)

T0 = 1_717_243_200.0
NOW = T0 + 400 * 86400


def make(i: int, kind: str = "view", t: float = T0, **fields):
    base = {"event_id": f"e{i}", "event_type": kind, "user_id": "u", "timestamp": t}
    if kind not in ("search", "identify"):
        base["item_id"] = fields.pop("item_id", f"i{i % 7}")
    base.update(fields)
    return parse_event(base, now=NOW)


def fold(events, state=None, shard="s-0", impressions_tracked=True):
    items = [PositionedEvent(e, StreamPosition(shard, n + 1)) for n, e in enumerate(events)]
    update = apply_user_events(state, "u", items, now=NOW, half_life_days=14, impressions_tracked=impressions_tracked)
    return update.state.profile


def test_behaviour_counts_spend_and_cart() -> None:
    shoe = {"category": ["Sports"], "brand": "Asics", "price": 100.0}
    profile = fold(
        [
            make(1, "view", T0, item_id="shoe", item=shoe, session_id="s1"),
            make(2, "add_to_cart", T0 + 10, item_id="shoe", quantity=2, item=shoe, session_id="s1"),
            make(3, "add_to_cart", T0 + 20, item_id="sock", item={"price": 5.0}, session_id="s1"),
            make(4, "purchase", T0 + 60, item_id="shoe", quantity=1, value=90.0, session_id="s1"),
            make(5, "search", T0 + 70, query="running socks", session_id="s2"),
        ]
    )
    view = profile.public_view()
    assert view["behavior"]["counts"] == {"add_to_cart": 2, "purchase": 1, "search": 1, "view": 1}
    assert view["behavior"]["total_spend"] == 90.0 and view["behavior"]["sessions"] == 2
    assert view["intent"]["cart"] == {"shoe": 1, "sock": 1}
    assert view["intent"]["recent_queries"] == ["running socks"] and view["intent"]["session_id"] == "s2"
    assert view["preferences"]["brands"]["Asics"] > 0 and view["preferences"]["price_bands"]["100-250"] > 0
    assert view["preferences"]["price_bands"]["50-100"] > 0  # the purchase at 90
    assert view["behavior"]["first_seen"] == "2024-06-01T12:00:00Z"


def test_negative_signals_subtract() -> None:
    item = {"category": "Horror"}
    profile = fold(
        [
            make(1, "view", T0, item=item),
            make(2, "dislike", T0 + 1, item=item),
            make(3, "rate", T0 + 2, value=1, item_id="m2", item=item),
        ]
    )
    assert profile.preferences.categories.scores["Horror"] < 0


def test_recent_behaviour_outweighs_old() -> None:
    old = [make(i, "like", T0, item={"category": "Jazz"}) for i in range(3)]
    new = [make(10 + i, "like", T0 + 60 * 86400, item={"category": "Rock"}) for i in range(2)]
    top = fold(old + new).public_view()["preferences"]["categories"]
    assert next(iter(top)) == "Rock"  # 2 recent likes beat 3 likes four half-lives ago


def test_identify_sets_traits_and_demographic_segment() -> None:
    profile = fold([make(1, "identify", T0, traits={"age": 27, "country": "FR", "vip": True})])
    assert profile.traits == {"age": 27, "country": "FR", "vip": True}
    assert "age_25_34" in profile.segments and "new_users" in profile.segments


def test_segments_follow_the_user_in_and_out() -> None:
    cart = [make(1, "add_to_cart", T0, item_id="x"), make(2, "view", T0 + 2 * 3600, item_id="y")]
    state = apply_user_events(None, "u", [PositionedEvent(e) for e in cart], now=NOW, half_life_days=14)
    assert "cart_abandoners" in state.joined
    after = apply_user_events(
        state.state,
        "u",
        [PositionedEvent(make(3, "purchase", T0 + 3 * 3600, item_id="x", value=5))],
        now=NOW,
        half_life_days=14,
    )
    assert "cart_abandoners" in after.left and "cart_abandoners" not in after.state.profile.segments


def test_risky_bot_is_flagged_and_kept_out_of_marketing_segments() -> None:
    burst = [make(i, "ad_click", T0 + i * 0.2, item={"category": "Games"}) for i in range(150)]
    profile = fold(burst)
    assert {"high_velocity", "ad_clicks_without_impressions"} <= set(profile.risk.flags)
    assert profile.risk.score >= 0.5
    assert profile.segments == ["risk_flagged"]


@pytest.mark.parametrize("offset", [0.0, 45.0, 59.9])
def test_a_burst_is_flagged_wherever_it_falls_against_the_clock_minute(offset) -> None:
    # 150 clicks in 30 s: straddling a minute boundary must not split the count in two
    burst = [make(i, "view", T0 + offset + i * 0.2, item_id=f"i{i}") for i in range(150)]
    assert "high_velocity" in fold(burst).risk.flags
    assert "high_velocity" in fold(list(reversed(burst))).risk.flags  # out-of-order arrival
    assert fold(burst).risk.peak_events_per_minute == 150


def test_busy_humans_are_not_flagged_for_velocity() -> None:
    just_under = [make(i, "view", T0 + 30 + i * 0.5, item_id=f"i{i}") for i in range(119)]
    assert "high_velocity" not in fold(just_under).risk.flags
    steady = [make(i, "view", T0 + i * 1.0, item_id=f"i{i}") for i in range(600)]  # 1 per second, 10 minutes
    profile = fold(steady)
    assert "high_velocity" not in profile.risk.flags
    assert profile.risk.peak_events_per_minute == 60
    assert len(profile.risk.seconds) == len(profile.risk.per_second) <= risk.SECONDS_KEPT


def test_busiest_window_on_hand_computed_counts() -> None:
    seconds, counts = [100, 130, 159, 160, 300], [50, 40, 30, 20, 5]
    assert risk.busiest_window(seconds, counts) == 120  # 100..159
    assert risk.busiest_window(seconds, counts, width=61) == 140  # 100..160
    assert risk.busiest_window(seconds, counts, width=31) == 90  # 130..160 (or 100..130)
    assert risk.busiest_window([], []) == 0


def test_profiles_stored_before_per_second_counts_still_load() -> None:
    state = ProfileState(profile=fold([make(1, "view", T0)]))
    doc = json.loads(dump_state(state))
    doc["profile"]["risk"].pop("seconds")
    doc["profile"]["risk"].pop("per_second")
    doc["profile"]["risk"]["minute_counts"] = {str(int(T0 // 60)): 1}
    loaded = load_state(json.dumps(doc))
    assert loaded.profile.risk.seconds == loaded.profile.risk.per_second == []
    assert loaded.profile.risk.peak_events_per_minute == 1


def test_ad_clicks_without_impressions_count_only_where_impressions_are_tracked() -> None:
    # five ad clicks over a day, no impressions: suspicious if producers send impressions, normal if not
    clicks = [make(i, "ad_click", T0 + i * 3 * 3600, item_id=f"ad{i}") for i in range(5)]
    assert fold(clicks).risk.flags == ["ad_clicks_without_impressions"]
    assert "risk_flagged" in fold(clicks).segments
    untracked = fold(clicks, impressions_tracked=False)
    assert untracked.risk.flags == [] and untracked.risk.score == 0.0
    assert "risk_flagged" not in untracked.segments
    # the other rules still apply without impressions: a click burst is flagged for velocity
    burst = [make(i, "ad_click", T0 + i * 0.2, item_id=f"ad{i}") for i in range(150)]
    assert fold(burst, impressions_tracked=False).risk.flags == ["high_velocity"]


def test_new_account_high_value_purchase_is_flagged() -> None:
    profile = fold([make(1, "view", T0), make(2, "purchase", T0 + 120, value=1500.0)])
    assert "new_account_high_value" in profile.risk.flags


def test_profile_stays_under_64_kb_after_100000_events() -> None:
    rng = random.Random(1)
    profile = UserProfile.new("u", T0, 14)
    kinds = [k for k in EVENT_TYPES if k != "identify"]  # every behaviour the profile records
    for i in range(100_000):
        kind = kinds[i % len(kinds)]
        fields: dict[str, Any] = {"value": 3} if kind == "rate" else {"value": 9.0} if kind == "purchase" else {}
        if kind == "search":
            fields["query"] = f"query {rng.randrange(10**6)}"
        event = make(
            i,
            kind,
            T0 + i * 30,
            item_id=f"item-{rng.randrange(50_000)}",
            session_id=f"s{i // 40}",
            recommendation_id=f"{rng.getrandbits(128):032x}-attribution",  # longer than the API's uuids
            item={
                "category": [f"c{rng.randrange(500)}", f"c{rng.randrange(500)}"],
                "brand": f"b{rng.randrange(800)}",
                "price": rng.uniform(1, 900),
            },
            **fields,
        )
        apply_event(profile, event)
        risk.observe(profile, event)  # per-second counts too, as the updater keeps them
    state = ProfileState(
        profile=profile, applied={"shardId-0": "9" * 56}, recent_event_ids=[f"event-{i:030d}" for i in range(256)]
    )
    stored = len(encode_state(state)) + 200  # key, version and attribute names
    assert stored < 64 * 1024, stored
    assert len(profile.risk.seconds) == risk.SECONDS_KEPT and profile.behavior.from_recommendations
    assert len(json.dumps(profile.public_view())) < 64 * 1024
