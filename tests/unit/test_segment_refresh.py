"""Segment memberships that change with time alone: when they are due, and the refresher's update."""

import math

from pulse.domain import segments
from pulse.domain.events import parse_event
from pulse.domain.updater import PositionedEvent, ProfileState, apply_user_events, refresh_segments
from pulse.ports import DueProfiles
from pulse.services.segment_refresh import refresh_due_segments
from tests.fakes import MemoryProfileStore

T0 = 1_717_243_200.0
HOUR, DAY = 3600.0, 86400.0
MARGIN = segments.CROSSING_MARGIN_SECONDS


def make(i: int, kind: str, t: float, user: str = "u", **fields):
    base = {"event_id": f"{user}-{i}", "event_type": kind, "user_id": user, "timestamp": t}
    if kind not in ("search", "identify"):
        base["item_id"] = fields.pop("item_id", f"i{i}")
    return parse_event(base | fields, now=T0 + 1000 * DAY)


def fold(events, state: ProfileState | None = None, user: str = "u") -> ProfileState:
    items = [PositionedEvent(e) for e in events]
    return apply_user_events(state, user, items, now=T0, half_life_days=14).state


def test_a_cart_left_alone_joins_cart_abandoners_when_due_without_any_event() -> None:
    # Given a user who put something in the cart and sent nothing more
    state = fold([make(1, "view", T0 - 60), make(2, "add_to_cart", T0, item_id="x")])
    assert "cart_abandoners" not in state.profile.segments
    # Then the next change is due one hour after the cart activity (before new_users ends)
    assert state.due_at == T0 + HOUR + MARGIN
    assert refresh_segments(state, now=T0 + 0.5 * HOUR) is None
    version = state.profile.version
    # When the refresher looks at it once it is due
    update = refresh_segments(state, now=T0 + 2 * HOUR)
    # Then the user joins the audience, the write is a new version, the next change is new_users ending
    assert update is not None and update.joined == ["cart_abandoners"] and update.left == []
    assert "cart_abandoners" in state.profile.segments and state.profile.version == version + 1
    assert state.segments_clock == T0 + 2 * HOUR
    assert state.due_at == T0 - 60 + 7 * DAY + MARGIN
    # And a late event from before that clock does not move the membership back in time
    fold([make(3, "view", T0 + 10, item_id="y")], state)
    assert "cart_abandoners" in state.profile.segments
    # While a purchase of the cart takes the user out, and the cart is no longer due
    fold([make(4, "purchase", T0 + 3 * HOUR, item_id="x", value=5)], state)
    assert "cart_abandoners" not in state.profile.segments
    assert state.due_at == T0 - 60 + 7 * DAY + MARGIN


def test_new_users_leave_on_day_seven_lapse_on_day_thirty_and_return_with_their_next_event() -> None:
    state = fold([make(1, "identify", T0, traits={"age": 30, "signup_at": T0 - 2 * DAY})])
    assert "new_users" in state.profile.segments
    assert state.due_at == T0 + 5 * DAY + MARGIN  # signup_at is the account's birth
    assert refresh_segments(state, now=T0 + 4 * DAY) is None
    update = refresh_segments(state, now=T0 + 5 * DAY + 2)
    assert update is not None and update.left == ["new_users"]
    assert state.profile.segments == ["age_25_34"] and state.due_at == T0 + 30 * DAY + MARGIN
    update = refresh_segments(state, now=T0 + 45 * DAY)
    assert update is not None and update.joined == ["lapsed_users"] and state.due_at is None
    # the next event, even one that happened before the refresher's clock, ends the lapse
    fold([make(2, "view", T0 + 40 * DAY)], state)
    assert state.profile.segments == ["age_25_34", "returning_users"]


def test_a_category_fan_fades_out_when_the_affinity_decays_below_the_threshold() -> None:
    state = fold([make(i, "like", T0 + i, item={"category": "Jazz"}) for i in range(3)])
    assert "fan:Jazz" in state.profile.segments
    score = state.profile.preferences.categories.at(T0 + 2, state.profile.half_life_seconds)["Jazz"]
    fades = T0 + 2 + state.profile.half_life_seconds * math.log2(score / 3.0)
    # first due: new_users ends 7 days after the first event; then the fan segment fades
    assert state.due_at == T0 + 7 * DAY + MARGIN
    update = refresh_segments(state, now=T0 + 7 * DAY + MARGIN)
    assert update is not None and update.left == ["new_users"]
    assert state.due_at is not None and math.isclose(state.due_at, fades + MARGIN)
    assert refresh_segments(state, now=fades - 10) is None
    update = refresh_segments(state, now=fades + MARGIN)
    assert update is not None and update.left == ["fan:Jazz"]
    assert state.due_at == T0 + 2 + 30 * DAY + MARGIN  # what is left: lapsing 30 days after the last like


def test_risk_flagged_users_have_no_marketing_change_due() -> None:
    burst = [make(i, "ad_click", T0 + i * 0.2, item={"category": "Games"}) for i in range(150)]
    state = fold([*burst, make(999, "add_to_cart", T0 + 40, item_id="x")])
    assert "risk_flagged" in state.profile.segments
    assert state.due_at is None  # cart_abandoners, new_users and fans are closed to a flagged user


def test_the_refresher_writes_due_profiles_and_skips_the_rest() -> None:
    store = MemoryProfileStore()
    for user, minutes in (("cart", 0), ("fresh", 50)):
        events = [make(1, "add_to_cart", T0 + minutes * 60, user=user, item_id="x")]
        update = apply_user_events(None, user, [PositionedEvent(e) for e in events], now=T0, half_life_days=14)
        store.save(update, expected_version=None)
    outcome = refresh_due_segments(store, store, now=T0 + HOUR + 5)
    assert (outcome.due, outcome.refreshed, outcome.joined, outcome.not_due) == (1, 1, 1, 0)
    assert store.members_page("cart_abandoners") == ["cart"]
    # an index that lags (lists a profile whose due time has moved) is not a write
    assert refresh_due_segments(store, _Listing(["cart"]), now=T0 + HOUR + 5).not_due == 1
    # time running out leaves the rest for the next run, unwritten
    late = refresh_due_segments(store, store, now=T0 + 2 * HOUR, seconds_left=lambda: 1.0)
    assert (late.due, late.refreshed, late.unfinished) == (1, 0, 1)


class _Listing(DueProfiles):
    def __init__(self, users: list[str]) -> None:
        self.users = users

    def due(self, now: float, limit: int) -> list[str]:
        return self.users[:limit]
