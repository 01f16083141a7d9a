"""Risk control: a score in [0, 1] with named flags, from behaviour a human would not produce.

Rules (documented in the README, section "Risk rules"):
- ``high_velocity``: 120 or more events within 60 consecutive seconds of event time (2 per second,
  sustained), over a sliding window, so a burst that straddles a clock minute counts in full.
- ``ad_clicks_without_impressions``: at least 3 ad clicks and more ad clicks than ad impressions.
- ``implausible_ctr``: at least 10 ad impressions and a click-through rate of 50 % or more.
- ``new_account_high_value``: a purchase worth 1,000 or more within an hour of the account's first
  event (or its ``signup_at`` trait).
The score combines the flags' weights as independent evidence: ``1 - prod(1 - w)``. A user whose score
is at least ``FLAG_THRESHOLD`` is "flagged": kept out of marketing segments, put in ``risk_flagged``.
"""

import bisect

from pulse.domain.events import BehaviorEvent
from pulse.domain.profile import RiskState, UserProfile

VELOCITY_PER_MINUTE = 120
VELOCITY_WINDOW_SECONDS = 60
SECONDS_KEPT = 2 * VELOCITY_WINDOW_SECONDS  # distinct seconds of event time whose counts are kept
HIGH_VALUE_PURCHASE = 1000.0
NEW_ACCOUNT_SECONDS = 3600.0
FLAG_THRESHOLD = 0.5
FLAG_WEIGHTS: dict[str, float] = {
    "high_velocity": 0.6,
    "ad_clicks_without_impressions": 0.5,
    "implausible_ctr": 0.4,
    "new_account_high_value": 0.5,
}


def observe(profile: UserProfile, event: BehaviorEvent) -> None:
    """Update the risk counters with one event (call after the profile has applied it)."""
    risk = profile.risk
    seconds, second = risk.second_counts, int(event.timestamp // 1)
    if seconds and seconds[-1][0] == second:
        seconds[-1] = (second, seconds[-1][1] + 1)
    elif not seconds or seconds[-1][0] < second:
        seconds.append((second, 1))
    else:  # out of order: insert in place
        at = bisect.bisect_left(seconds, (second, 0))
        if seconds[at][0] == second:
            seconds[at] = (second, seconds[at][1] + 1)
        else:
            seconds.insert(at, (second, 1))
    if len(seconds) > SECONDS_KEPT:  # bounded state: the oldest seconds go first
        del seconds[: len(seconds) - SECONDS_KEPT]
    if seconds[-1][0] == second:
        # in order: only the window that ends at this second can have grown (walk back from the end)
        busiest = 0
        for earlier, n in reversed(seconds):
            if earlier <= second - VELOCITY_WINDOW_SECONDS:
                break
            busiest += n
    else:
        busiest = busiest_window(seconds)
    risk.peak_events_per_minute = max(risk.peak_events_per_minute, busiest)
    if event.event_type == "purchase":
        amount = (event.unit_price or 0.0) * event.quantity
        signup = profile.traits.get("signup_at")
        born = profile.behavior.first_seen if not isinstance(signup, float) else signup
        if amount >= HIGH_VALUE_PURCHASE and born is not None and event.timestamp - born <= NEW_ACCOUNT_SECONDS:
            risk.new_account_high_value = True


def busiest_window(seconds: list[tuple[int, int]], width: int = VELOCITY_WINDOW_SECONDS) -> int:
    """The most events in any ``width`` consecutive whole seconds of ascending ``(second, events)`` pairs
    (a sliding window, two pointers)."""
    best = total = start = 0
    for second, n in seconds:
        total += n
        while seconds[start][0] <= second - width:
            total -= seconds[start][1]
            start += 1
        best = max(best, total)
    return best


def assess(profile: UserProfile) -> RiskState:
    """Recompute the flags and score from the counters (in place; returns the state)."""
    risk, counts = profile.risk, profile.behavior.counts
    impressions, clicks = counts.get("ad_impression", 0), counts.get("ad_click", 0)
    flags = []
    if risk.peak_events_per_minute >= VELOCITY_PER_MINUTE:
        flags.append("high_velocity")
    if clicks >= 3 and clicks > impressions:
        flags.append("ad_clicks_without_impressions")
    if impressions >= 10 and clicks / impressions >= 0.5:
        flags.append("implausible_ctr")
    if risk.new_account_high_value:
        flags.append("new_account_high_value")
    keep = 1.0
    for flag in flags:
        keep *= 1.0 - FLAG_WEIGHTS[flag]
    risk.flags, risk.score = flags, round(1.0 - keep, 6)
    return risk


def is_flagged(profile: UserProfile) -> bool:
    return profile.risk.score >= FLAG_THRESHOLD
