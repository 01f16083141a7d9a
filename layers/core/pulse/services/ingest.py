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
from functools import cached_property
from typing import NamedTuple, cast

from pulse import heap
from pulse.domain.activity import THROUGHPUT_RETENTION, THROUGHPUT_ROW, minute_buckets
from pulse.domain.activity import tally as activity_tally
from pulse.domain.catalog import ItemUpdateEvent
from pulse.domain.events import BehaviorEvent, InvalidEvent
from pulse.domain.records import parse_record
from pulse.domain.updater import Attribution, PositionedEvent, ProfileUpdate, StreamPosition, apply_user_events
from pulse.ports import (
    ActivityStore,
    CatalogStore,
    DeadLetter,
    DeadLetterSink,
    PendingNotice,
    PermanentFailure,
    ProfileStore,
    StoreConflict,
    TransientFailure,
)
from pulse.services.activation import Activation, publish_written

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

    @cached_property
    def position(self) -> StreamPosition:
        """Parsed once: a batch asks for it three times a record (56-digit numbers on AWS)."""
        return StreamPosition(self.shard_id, int(self.sequence_number))

    def letter(self, reason: str) -> DeadLetter:
        """This record as a dead letter: why, where in the stream, and its original bytes."""
        return DeadLetter(
            reason=reason,
            payload=self.data,
            shard_id=self.shard_id,
            sequence_number=self.sequence_number,
            event_source_arn=self.event_source_arn,
            arrival=self.arrival,
            partition_key=self.partition_key,
        )


@dataclass
class BatchOutcome:
    failed: set[str] = field(default_factory=set)  # sequence numbers to report as batch item failures
    applied: int = 0
    attributed: int = 0  # applied events that carried a recommendation_id
    skipped: int = 0
    dead_lettered: int = 0
    writes: int = 0
    reads_skipped: int = 0  # profiles the store held from this process's own writes (no read made)
    conflicts: int = 0
    users: int = 0
    items_changed: int = 0  # item_update events that changed the catalogue
    counters_unwritten: int = 0  # live-popularity counters DynamoDB did not take (a statistic, not retried)
    notices_published: int = 0  # membership and risk changes put on the event bus
    notices_waiting: int = 0  # left in the outbox for the refresher's sweep (EventBridge refused them now)


def shard_of(event_id: str) -> str:
    """Lambda's Kinesis ``eventID`` is ``<shardId>:<sequenceNumber>``."""
    return event_id.rsplit(":", 1)[0]


@heap.paused_during  # a batch's objects are freed as it goes; the collector runs after it (pulse.heap)
def process_batch(
    records: Sequence[StreamRecord],
    store: ProfileStore,
    dead_letters: DeadLetterSink,
    half_life_days: float,
    now: float | None = None,
    impressions_tracked: bool = True,
    concurrency: int = 1,
    catalog: CatalogStore | None = None,
    activity: ActivityStore | None = None,
    attribution: Attribution | None = None,
    activation: Activation | None = None,
) -> BatchOutcome:
    """Apply the batch; ``catalog`` takes its ``item_update`` events, ``activity`` counts what the
    applied events say about items (live popularity), ``attribution`` finds the experiment variant
    behind a recommendation id (its outcomes are written with the profile), ``activation`` publishes
    the membership and risk changes the writes put in the outbox."""
    now = time.time() if now is None else now
    outcome = BatchOutcome()
    by_user, item_changes, letters = _read(records, now, with_catalog=catalog is not None)
    record_at = {record.position: record for record in records}

    marks = _ShardMarks()
    if letters:
        unsent = dead_letters.send(letters)
        marks.dead_lettered = len(letters) - len(unsent)
        for letter in unsent:
            marks.fail_from(StreamPosition(letter.shard_id, int(letter.sequence_number)))

    def apply(user_id: str, events: list[PositionedEvent]) -> _Applied | None:
        first = cast(StreamPosition, events[0].position)  # stream records always carry their position
        if marks.failed_before(first):
            return None  # its shard already failed before this user: it will be re-delivered anyway
        try:
            return _apply_user(store, user_id, events, half_life_days, now, impressions_tracked, attribution)
        except TransientFailure:
            marks.fail_from(first)
        except PermanentFailure as exc:  # the profile stays as it was; the shard goes on
            reason = f"the profile of {user_id} cannot be read or stored: {exc}"
            refused = [record_at[cast(StreamPosition, e.position)].letter(reason) for e in events]
            marks.dead_letter(dead_letters, refused, first)
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
    if catalog is not None:
        outcome.items_changed = _apply_item_changes(catalog, item_changes, marks)
    applied_events = []
    written: list[PendingNotice] = []
    for result in results:
        if result is None:
            continue
        update = result.update
        applied_events += update.events
        if result.writes:
            user = update.state.profile.user_id
            written += [PendingNotice(n, user, now) for n in update.notices]
        outcome.applied += update.applied  # 0 when nothing changed (then nothing was written)
        outcome.attributed += update.attributed
        outcome.skipped += update.skipped
        outcome.writes += result.writes
        outcome.reads_skipped += result.reads_skipped
        outcome.conflicts += result.conflicts

    if activation is not None and written:
        published = publish_written(activation, written)
        outcome.notices_published, outcome.notices_waiting = published.published, published.waiting
    outcome.dead_lettered = marks.dead_lettered
    if activity is not None:
        _count(activity, applied_events, now, outcome)
    outcome.failed = {r.sequence_number for r in records if marks.failed_before(r.position, inclusive=True)}
    return outcome


def _count(activity: ActivityStore, applied: list[BehaviorEvent], now: float, outcome: BatchOutcome) -> None:
    """Live popularity from the applied events; the batch's work in this minute's throughput row."""
    unwritten = activity.add(activity_tally(applied, now)) if applied else 0
    work = {"events": outcome.applied, "profiles": outcome.writes, "dead_letters": outcome.dead_lettered}
    work = {name: n for name, n in work.items() if n}
    if work and not activity.add_counts(
        minute_buckets(now, 1)[0], THROUGHPUT_ROW, work, int(now) + THROUGHPUT_RETENTION
    ):
        unwritten += 1
    outcome.counters_unwritten = unwritten


def _read(
    records: Sequence[StreamRecord], now: float, with_catalog: bool
) -> tuple[dict[str, list[PositionedEvent]], list[tuple[StreamRecord, ItemUpdateEvent]], list[DeadLetter]]:
    """Each record parsed: users' events grouped by user (stream order kept), catalogue changes, and
    dead letters for what can never be applied."""
    by_user: dict[str, list[PositionedEvent]] = defaultdict(list)
    item_changes: list[tuple[StreamRecord, ItemUpdateEvent]] = []
    letters: list[DeadLetter] = []
    for record in records:
        try:
            event = parse_record(record.data, now=now)
        except InvalidEvent as exc:
            letters.append(record.letter(exc.reason))
            continue
        if isinstance(event, ItemUpdateEvent):
            if with_catalog:
                item_changes.append((record, event))
            else:
                letters.append(record.letter("item_update: this processor has no catalogue"))
            continue
        by_user[event.user_id].append(PositionedEvent(event, record.position))
    return by_user, item_changes, letters


def _apply_item_changes(
    catalog: CatalogStore, changes: list[tuple[StreamRecord, ItemUpdateEvent]], marks: "_ShardMarks"
) -> int:
    """Apply catalogue changes in stream order (one item's changes share a shard, keyed by item id);
    a transient failure fails its shard from there, like a user's."""
    from pulse.services.catalog import apply_item_update

    changed = 0
    for record, change in changes:
        if marks.failed_before(record.position, inclusive=True):
            continue
        try:
            changed += apply_item_update(catalog, change)
        except TransientFailure:
            marks.fail_from(record.position)
    return changed


class _ShardMarks:
    """The lowest failed position of each shard (its records from there on are re-delivered by
    Lambda), kept under a lock since users of a batch are applied on threads."""

    def __init__(self) -> None:
        self._first: dict[str, int] = {}
        self._lock = threading.Lock()
        self.dead_lettered = 0

    def fail_from(self, position: StreamPosition) -> None:
        with self._lock:
            current = self._first.get(position.shard_id)
            if current is None or position.sequence_number < current:
                self._first[position.shard_id] = position.sequence_number

    def failed_before(self, position: StreamPosition, inclusive: bool = False) -> bool:
        with self._lock:
            mark = self._first.get(position.shard_id)
        return mark is not None and (position.sequence_number >= mark if inclusive else position.sequence_number > mark)

    def dead_letter(self, sink: DeadLetterSink, letters: list[DeadLetter], first: StreamPosition) -> None:
        """Send letters; if the queue does not take them all, the shard fails from ``first`` instead."""
        if sink.send(letters):
            self.fail_from(first)
            return
        with self._lock:
            self.dead_lettered += len(letters)


class _Applied(NamedTuple):
    """One user's part of a batch: the update that was saved (or found to change nothing), the writes
    made (0 or 1), the loads the store answered from memory, and the conditional-write conflicts
    retried on the way."""

    update: ProfileUpdate
    writes: int = 0
    reads_skipped: int = 0
    conflicts: int = 0


def _apply_user(
    store: ProfileStore,
    user_id: str,
    events: list[PositionedEvent],
    half_life_days: float,
    now: float,
    impressions_tracked: bool,
    attribution: Attribution | None = None,
) -> _Applied:
    """Apply one user's events with a read and a conditional write, again from a fresh read when
    the write finds the profile changed."""
    conflicts = held = 0
    for _ in range(CONFLICT_ATTEMPTS):
        stored = store.load(user_id)
        held += stored is not None and stored.held
        if stored is not None and stored.erased_at(now):  # erased: in-flight and re-sent events are dropped
            return _Applied(ProfileUpdate(stored.state, skipped=len(events)), 0, held, conflicts)
        update = apply_user_events(
            stored.state if stored and not stored.is_tombstone else None,
            user_id,
            events,
            now=now,
            half_life_days=half_life_days,
            impressions_tracked=impressions_tracked,
            attribution=attribution,
            after_version=stored.version if stored and stored.is_tombstone else 0,
        )
        if not update.changed:
            return _Applied(update, 0, held, conflicts)
        try:
            store.save(update, expected_version=stored.version if stored else None)
        except StoreConflict:
            conflicts += 1
            continue
        return _Applied(update, 1, held, conflicts)
    raise TransientFailure(f"profile of {user_id} kept changing under {CONFLICT_ATTEMPTS} attempts")
