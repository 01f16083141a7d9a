"""Use case of the scheduled segment refresher: memberships that change with time alone.

A cart left for an hour, an account turning 7 days old, a favourite category fading below its
threshold: no event arrives to trigger those changes, so every profile write records when its next
one is due (``ProfileState.due_at``) and the store indexes it. On each scheduled run the refresher
asks the index for the profiles due by now, re-evaluates each at the wall clock, and writes it with
the same conditional write (and membership transaction) as the updater. A profile that an event
changed in between fails the version check and is skipped: that write already re-evaluated it.
"""

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pulse.domain.updater import refresh_segments
from pulse.ports import DeadLetter, DueProfiles, PendingNotice, ProfileStore, StoreConflict, TransientFailure

MAX_PROFILES_PER_RUN = 5000
SECONDS_KEPT_IN_HAND = 5.0  # stop starting new profiles this close to the function's timeout


@dataclass
class RefreshOutcome:
    due: int = 0  # users listed (by the due index, or by the scan of resegment_all)
    refreshed: int = 0  # profiles re-evaluated and written
    joined: int = 0  # memberships added
    left: int = 0  # memberships removed
    not_due: int = 0  # already re-evaluated by an event's write (the index lags, or a race)
    conflicts: int = 0  # changed by the updater between read and write
    unfinished: int = 0  # left for the next run (time ran out)
    failed: int = 0  # profiles that could not be refreshed (isolated, reported; the run went on)
    notices: list[PendingNotice] = field(default_factory=list)  # written to the outbox: to publish


def resegment_all(
    store: ProfileStore, users: Iterable[str], now: float, say: Callable[[str], None] = lambda _: None
) -> RefreshOutcome:
    """Re-evaluate every listed profile now, due or not: after ``segments.json`` changed (new or edited
    rules), or once on a stack whose profiles were written before due times existed. Same write as
    the refresher; a profile an event changes meanwhile is skipped (that write evaluated it)."""
    outcome = RefreshOutcome()
    for user_id in users:
        outcome.due += 1
        refresh_one(store, user_id, now, outcome, force=True)
        if outcome.due % 1000 == 0:
            say(f"{outcome.due} profiles, {outcome.joined} memberships joined, {outcome.left} left")
    return outcome


def refresh_due_segments(
    store: ProfileStore,
    index: DueProfiles,
    now: float,
    seconds_left: Callable[[], float] = lambda: float("inf"),
    limit: int = MAX_PROFILES_PER_RUN,
    on_failure: Callable[[str, Exception], None] = lambda user_id, exc: None,
) -> RefreshOutcome:
    """Re-evaluate the profiles due by ``now``. A profile that fails for any reason but a transient
    one (it cannot be decoded, stored or evaluated) is reported to ``on_failure`` and skipped: one bad
    profile never holds back the due cart abandoners behind it. Throttling ends the run (the next
    scheduled run goes on)."""
    outcome = RefreshOutcome()
    users = index.due(now, limit)
    outcome.due = len(users)
    for position, user_id in enumerate(users):
        if seconds_left() < SECONDS_KEPT_IN_HAND:
            outcome.unfinished = len(users) - position
            break
        try:
            refresh_one(store, user_id, now, outcome)
        except TransientFailure:
            raise
        except Exception as exc:  # noqa: BLE001  # isolated and reported with its cause
            outcome.failed += 1
            on_failure(user_id, exc)
    return outcome


def refresh_one(store: ProfileStore, user_id: str, now: float, outcome: RefreshOutcome, force: bool = False) -> None:
    """Re-evaluate one profile (due, or any with ``force``) and write it like the updater; counted in
    ``outcome``, its notices collected there for publishing."""
    stored = store.load(user_id)
    update = refresh_segments(stored.state, now, force) if stored is not None and not stored.is_tombstone else None
    if stored is None or update is None:
        outcome.not_due += 1
        return
    try:
        store.save(update, expected_version=stored.version)
    except StoreConflict:
        outcome.conflicts += 1
        return
    outcome.refreshed += 1
    outcome.joined += len(update.joined)
    outcome.left += len(update.left)
    outcome.notices += [PendingNotice(n, user_id, now) for n in update.notices]


def profile_letter(user_id: str, reason: str) -> DeadLetter:
    """A dead letter for a profile the refresher could not refresh: not a stream record (no position;
    the payload names the user), so a replay keeps it in the queue, with its reason, for a person."""
    payload = json.dumps({"user_id": user_id, "failed": "segment_refresh"}).encode()
    return DeadLetter(reason=reason, payload=payload, shard_id="segment-refresher", sequence_number="0")
