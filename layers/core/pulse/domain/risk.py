"""Risk control: a score in [0, 1] with named flags, from behaviour a human would not produce.

Rules (documented in the README, section "Risk rules"):
- ``high_velocity``: 120 or more events within one minute of event time (2 per second, sustained).
- ``ad_clicks_without_impressions``: at least 3 ad clicks and more ad clicks than ad impressions.
- ``implausible_ctr``: at least 10 ad impressions and a click-through rate of 50 % or more.
- ``new_account_high_value``: a purchase worth 1,000 or more within an hour of the account's first
  event (or its ``signup_at`` trait).
The score combines the flags' weights as independent evidence: ``1 - prod(1 - w)``. A user whose score
is at least ``FLAG_THRESHOLD`` is "flagged": kept out of marketing segments, put in ``risk_flagged``.
"""

from pulse.domain.events import BehaviorEvent
from pulse.domain.profile import RiskState, UserProfile

VELOCITY_PER_MINUTE = 120
HIGH_VALUE_PURCHASE = 1000.0
NEW_ACCOUNT_SECONDS = 3600.0
MINUTE_WINDOW = 10
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
    minute = str(int(event.timestamp // 60))
    risk.minute_counts[minute] = risk.minute_counts.get(minute, 0) + 1
    risk.peak_events_per_minute = max(risk.peak_events_per_minute, risk.minute_counts[minute])
    if len(risk.minute_counts) > MINUTE_WINDOW:
        for old in sorted(risk.minute_counts, key=int)[: len(risk.minute_counts) - MINUTE_WINDOW]:
            del risk.minute_counts[old]
    if event.event_type == "purchase":
        amount = (event.unit_price or 0.0) * event.quantity
        signup = profile.traits.get("signup_at")
        born = profile.behavior.first_seen if not isinstance(signup, float) else signup
        if amount >= HIGH_VALUE_PURCHASE and born is not None and event.timestamp - born <= NEW_ACCOUNT_SECONDS:
            risk.new_account_high_value = True


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
