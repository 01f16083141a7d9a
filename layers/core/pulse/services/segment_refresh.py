"""Use case of the scheduled segment refresher: memberships that change with time alone.

A cart left for an hour, an account turning 7 days old, a favourite category fading below its
threshold: no event arrives to trigger those changes, so every profile write records when its next
one is due (``ProfileState.due_at``) and the store indexes it. On each scheduled run the refresher
asks the index for the profiles due by now, re-evaluates each at the wall clock, and writes it with
the same conditional write (and membership transaction) as the updater. A profile that an event
changed in between fails the version check and is skipped: that write already re-evaluated it.
"""

from collections.abc import Callable
from dataclasses import dataclass

from pulse.adapters.ports import DueProfiles, ProfileStore, StoreConflict
from pulse.domain.updater import refresh_segments

MAX_PROFILES_PER_RUN = 5000
SECONDS_KEPT_IN_HAND = 5.0  # stop starting new profiles this close to the function's timeout


@dataclass
class RefreshOutcome:
    due: int = 0  # users the index listed
    refreshed: int = 0  # profiles re-evaluated and written
    joined: int = 0  # memberships added
    left: int = 0  # memberships removed
    not_due: int = 0  # already re-evaluated by an event's write (the index lags, or a race)
    conflicts: int = 0  # changed by the updater between read and write
    unfinished: int = 0  # left for the next run (time ran out)


def refresh_due_segments(
    store: ProfileStore,
    index: DueProfiles,
    now: float,
    seconds_left: Callable[[], float] = lambda: float("inf"),
    limit: int = MAX_PROFILES_PER_RUN,
) -> RefreshOutcome:
    outcome = RefreshOutcome()
    users = index.due(now, limit)
    outcome.due = len(users)
    for position, user_id in enumerate(users):
        if seconds_left() < SECONDS_KEPT_IN_HAND:
            outcome.unfinished = len(users) - position
            break
        stored = store.load(user_id)
        update = refresh_segments(stored.state, now) if stored is not None else None
        if stored is None or update is None:
            outcome.not_due += 1
            continue
        try:
            store.save(update, expected_version=stored.version)
        except StoreConflict:
            outcome.conflicts += 1
            continue
        outcome.refreshed += 1
        outcome.joined += len(update.joined)
        outcome.left += len(update.left)
    return outcome
