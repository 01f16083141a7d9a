"""Use case of the profile updater: apply one Kinesis batch to the profiles, exactly once.

1. Every record is parsed; one that can never be applied (not JSON, invalid, too large, too far in the
   future) becomes a dead letter with its reason, payload and stream position, and counts as processed.
2. Valid events are grouped by user, keeping stream order, and each user gets one read and one
   conditional write (``ProfileStore.save``). A lost optimistic lock is retried from a fresh read.
   Users are independent, so up to ``concurrency`` of them are read and written at once (threads:
   the time goes in waiting for DynamoDB); one user's events are still applied in order, in one write.
3. A transient failure (throttling, timeouts, a dead letter that could not be sent) fails the record
   where it happened *and every later record of that shard*; Lambda resumes the shard there, and the
   per-shard high-water mark in each profile makes the re-delivered, already-applied records no-ops.
"""

import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import cast

from pulse.domain.events import InvalidEvent, parse_event
from pulse.domain.updater import PositionedEvent, ProfileUpdate, StreamPosition, apply_user_events
from pulse.ports import (
    DeadLetter,
    DeadLetterSink,
    ProfileStore,
    StoreConflict,
    TransientFailure,
)

CONFLICT_ATTEMPTS = 3


@dataclass(frozen=True)
class StreamRecord:
    """A Kinesis record as the updater sees it."""

    shard_id: str
    sequence_number: str
    data: bytes
    partition_key: str | None = None
    arrival: float | None = None
    event_source_arn: str | None = None

    @property
    def position(self) -> StreamPosition:
        return StreamPosition(self.shard_id, int(self.sequence_number))


@dataclass
class BatchOutcome:
    failed: set[str] = field(default_factory=set)  # sequence numbers to report as batch item failures
    applied: int = 0
    attributed: int = 0  # applied events that carried a recommendation_id
    skipped: int = 0
    dead_lettered: int = 0
    writes: int = 0
    conflicts: int = 0
    users: int = 0


def shard_of(event_id: str) -> str:
    """Lambda's Kinesis ``eventID`` is ``<shardId>:<sequenceNumber>``."""
    return event_id.rsplit(":", 1)[0]


def process_batch(
    records: Sequence[StreamRecord],
    store: ProfileStore,
    dead_letters: DeadLetterSink,
    half_life_days: float,
    now: float | None = None,
    impressions_tracked: bool = True,
    concurrency: int = 1,
) -> BatchOutcome:
    now = time.time() if now is None else now
    outcome = BatchOutcome()
    by_user: dict[str, list[PositionedEvent]] = defaultdict(list)
    letters: list[DeadLetter] = []

    for record in records:
        try:
            event = parse_event(record.data, now=now)
        except InvalidEvent as exc:
            letters.append(
                DeadLetter(
                    reason=exc.reason,
                    payload=record.data,
                    shard_id=record.shard_id,
                    sequence_number=record.sequence_number,
                    event_source_arn=record.event_source_arn,
                    arrival=record.arrival,
                    partition_key=record.partition_key,
                )
            )
            continue
        by_user[event.user_id].append(PositionedEvent(event, record.position))

    first_failure: dict[str, int] = {}
    failures = threading.Lock()

    def fail_from(position: StreamPosition) -> None:
        with failures:
            current = first_failure.get(position.shard_id)
            if current is None or position.sequence_number < current:
                first_failure[position.shard_id] = position.sequence_number

    if letters:
        unsent = dead_letters.send(letters)
        outcome.dead_lettered = len(letters) - len(unsent)
        for letter in unsent:
            fail_from(StreamPosition(letter.shard_id, int(letter.sequence_number)))

    def apply(user_id: str, events: list[PositionedEvent]) -> tuple[ProfileUpdate, int, int] | None:
        first = cast(StreamPosition, events[0].position)  # stream records always carry their position
        with failures:
            known_failure = first_failure.get(first.shard_id)
        if known_failure is not None and first.sequence_number > known_failure:
            return None  # its shard already failed before this user: it will be re-delivered anyway
        try:
            return _apply_user(store, user_id, events, half_life_days, now, impressions_tracked)
        except TransientFailure:
            fail_from(first)
            return None

    # Users in order of their first record, so a shard that already failed can skip later users.
    # With concurrency, a later user may be applied before an earlier one fails: the high-water mark
    # makes its re-delivered records no-ops.
    ordered = sorted(by_user.items(), key=lambda kv: min(e.position for e in kv[1] if e.position))
    outcome.users = len(ordered)
    workers = max(1, min(concurrency, len(ordered)))
    if workers == 1:
        results = [apply(user_id, events) for user_id, events in ordered]
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="user") as pool:
            results = list(pool.map(lambda kv: apply(*kv), ordered))
    for result in results:
        if result is None:
            continue
        update, writes, conflicts = result
        outcome.applied += update.applied  # 0 when nothing changed (then nothing was written)
        outcome.attributed += update.attributed
        outcome.skipped += update.skipped
        outcome.writes += writes
        outcome.conflicts += conflicts

    for record in records:
        mark = first_failure.get(record.shard_id)
        if mark is not None and int(record.sequence_number) >= mark:
            outcome.failed.add(record.sequence_number)
    return outcome


def _apply_user(
    store: ProfileStore,
    user_id: str,
    events: list[PositionedEvent],
    half_life_days: float,
    now: float,
    impressions_tracked: bool,
) -> tuple[ProfileUpdate, int, int]:
    """The update that was saved (or found to change nothing), the writes made (0 or 1), and the
    conditional-write conflicts retried on the way."""
    conflicts = 0
    for _ in range(CONFLICT_ATTEMPTS):
        stored = store.load(user_id)
        update = apply_user_events(
            stored.state if stored else None,
            user_id,
            events,
            now=now,
            half_life_days=half_life_days,
            impressions_tracked=impressions_tracked,
        )
        if not update.changed:
            return update, 0, conflicts
        try:
            store.save(update, expected_version=stored.version if stored else None)
        except StoreConflict:
            conflicts += 1
            continue
        return update, 1, conflicts
    raise TransientFailure(f"profile of {user_id} kept changing under {CONFLICT_ATTEMPTS} attempts")
