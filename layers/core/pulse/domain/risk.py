"""Risk control: a score in [0, 1] with named flags, from behaviour a human would not produce.

Rules (documented in the README, section "Risk rules"):
- ``high_velocity``: 120 or more events within 60 consecutive seconds of event time (2 per second,
  sustained), over a sliding window, so a burst that straddles a clock minute counts in full.
- ``ad_clicks_without_impressions``: at least 3 ad clicks and more ad clicks than ad impressions
  (only where producers send ``ad_impression`` events: ``impressions_tracked``).
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
    seconds, counts, second = risk.seconds, risk.per_second, int(event.timestamp // 1)
    at = bisect.bisect_left(seconds, second)  # the common, in-order case: at the end or the last entry
    if at < len(seconds) and seconds[at] == second:
        counts[at] += 1
    else:
        seconds.insert(at, second)
        counts.insert(at, 1)
    if len(seconds) > SECONDS_KEPT:  # bounded state: the oldest seconds go first
        del seconds[: len(seconds) - SECONDS_KEPT], counts[: len(counts) - SECONDS_KEPT]
    if seconds[-1] == second:  # in order: only the window that ends at this second can have grown
        busiest = sum(counts[bisect.bisect_right(seconds, second - VELOCITY_WINDOW_SECONDS) :])
    else:  # out of order: any window around this second may have grown
        busiest = busiest_window(seconds, counts)
    risk.peak_events_per_minute = max(risk.peak_events_per_minute, busiest)
    if event.event_type == "purchase":
        amount = (event.unit_price or 0.0) * event.quantity
        signup = profile.traits.get("signup_at")
        born = profile.behavior.first_seen if not isinstance(signup, float) else signup
        if amount >= HIGH_VALUE_PURCHASE and born is not None and event.timestamp - born <= NEW_ACCOUNT_SECONDS:
            risk.new_account_high_value = True


def busiest_window(seconds: list[int], counts: list[int], width: int = VELOCITY_WINDOW_SECONDS) -> int:
    """The most events in any ``width`` consecutive whole seconds, given ascending ``seconds`` and the
    events in each (a sliding window, two pointers)."""
    best = total = start = 0
    for second, n in zip(seconds, counts, strict=True):
        total += n
        while seconds[start] <= second - width:
            total -= counts[start]
            start += 1
        best = max(best, total)
    return best


def assess(profile: UserProfile, impressions_tracked: bool = True) -> RiskState:
    """Recompute the flags and score from the counters (in place; returns the state).
    ``impressions_tracked`` is False for a deployment whose producers never send ``ad_impression``."""
    risk, counts = profile.risk, profile.behavior.counts
    impressions, clicks = counts.get("ad_impression", 0), counts.get("ad_click", 0)
    flags = []
    if risk.peak_events_per_minute >= VELOCITY_PER_MINUTE:
        flags.append("high_velocity")
    if impressions_tracked and clicks >= 3 and clicks > impressions:
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
