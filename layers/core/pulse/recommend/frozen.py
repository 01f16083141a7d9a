"""A profile as it was at a cut-off: the "not real-time" arm of an experiment (``frozen`` strategy).

The profile keeps its latest ``MAX_RECENT`` interactions with their times; replaying those up to
``as_of`` into a new profile gives what scoring would have seen had profiles stopped updating then
(recent items, item affinities decayed to the cut-off, sessions). Older interactions and the
categories of items are not in that history, so the frozen profile knows less than the one kept at
the time would have: an honest, slightly pessimistic baseline. What a user bought after the cut-off is
still left out of answers (the contract's rule), from the live profile.
"""

from pulse.domain.events import BehaviorEvent
from pulse.domain.profile import UserProfile, apply_event


def frozen_profile(profile: UserProfile, as_of: float) -> UserProfile:
    frozen = UserProfile.new(profile.user_id, profile.created_at, profile.preferences.half_life_days)
    frozen.traits = dict(profile.traits)
    for x in profile.behavior.recent:
        if x.at > as_of:
            continue
        event = BehaviorEvent.model_construct(
            event_id=x.event_id,
            event_type=x.event_type,
            user_id=profile.user_id,
            timestamp=x.at,
            item_id=x.item_id,
            value=x.value,
            quantity=1,
        )
        apply_event(frozen, event)
    frozen.updated_at = min(profile.updated_at, as_of)
    return frozen
