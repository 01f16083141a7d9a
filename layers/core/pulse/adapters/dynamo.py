"""DynamoDB adapters (pynamodb): the profile store and the segment directory.

Profiles table, one item per user:
  ``user_id`` (hash key), ``version`` (optimistic lock, equals the profile's version),
  ``state`` (zlib-compressed JSON of ``ProfileState``: profile + idempotency state), ``updated_at``,
  and, only while a segment membership is due to change with time, ``due_at`` and ``due_shard``: the
  sparse index ``due`` (``due_shard`` hash, ``due_at`` range, keys only) lists those users by due time,
  spread over ``DUE_SHARDS`` partitions so no one partition takes every write.
Segments table, one item per (segment, user):
  ``segment`` (hash key), ``user_id`` (range key), ``joined_at``. The partition ``#counts`` holds each
  segment's member count as ``COUNT_SHARDS`` counter items (range key ``<segment>#<shard>``, the
  user's shard as for ``due_shard``; ``members``, and ``changes``, how often it was updated), so
  ``GET /segments`` is one small Query however large the audiences, and concurrent writers rarely
  touch the same counter. Releases before the counters listed generated segment names (``fan:...``)
  in the partition ``#families``; it is read only to find those names when recounting.

A batch's changes for one user are one call: ``UpdateItem``/``PutItem`` with a version condition, or,
when segment memberships change, one ``TransactWriteItems`` holding the same conditional profile write
plus the membership puts and deletes and the counters' increments (all or nothing, so memberships
and counts never drift from profiles). A transaction cancelled only because another one held a
counter at the same moment (``TransactionConflict``) is sent again, after a short random pause.
"""

import base64
import binascii
import json
import random
import time
import zlib
from binascii import crc32
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from pynamodb.attributes import BinaryAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError, UpdateError
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from pulse.adapters.ports import (
    DueProfiles,
    Page,
    ProfileStore,
    SegmentDirectory,
    StoreConflict,
    StoredProfile,
    TransientFailure,
)
from pulse.config import Settings
from pulse.domain.segments import catalog
from pulse.domain.updater import ProfileState, ProfileUpdate, dump_state, load_state

FAMILIES_PARTITION = "#families"  # written by releases before COUNTS_PARTITION; read when recounting
COUNTS_PARTITION = "#counts"
COUNT_SHARDS = 16
DUE_INDEX = "due"
DUE_SHARDS = 16
TRANSACTION_ATTEMPTS = 4  # sends of a transaction cancelled by a conflict on a shared counter
RECOUNT_ROUNDS = 5
CONFLICT_CODES = {"ConditionalCheckFailedException"}
T = TypeVar("T")


class DueIndex(GlobalSecondaryIndex["ProfileRecord"]):
    class Meta:
        index_name = DUE_INDEX
        projection = KeysOnlyProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    due_at = NumberAttribute(range_key=True)


class ProfileRecord(Model):
    class Meta:
        table_name = "pulse-profiles"

    user_id = UnicodeAttribute(hash_key=True)
    version = NumberAttribute()
    state = BinaryAttribute(legacy_encoding=False)
    updated_at = NumberAttribute()
    due_shard = UnicodeAttribute(null=True)
    due_at = NumberAttribute(null=True)
    due_index = DueIndex()


def user_shard(user_id: str, shards: int) -> int:
    """Which of ``shards`` partitions a user's items go to (due index, segment counters)."""
    return crc32(user_id.encode()) % shards


def due_shard(user_id: str) -> str:
    return str(user_shard(user_id, DUE_SHARDS))


class SegmentMember(Model):
    class Meta:
        table_name = "pulse-segments"

    segment = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)  # in COUNTS_PARTITION: ``<segment>#<shard>``
    joined_at = NumberAttribute(null=True)
    members = NumberAttribute(null=True)  # counters only
    changes = NumberAttribute(null=True)  # counters only: updates so far (recount's change check)


def count_shard(user_id: str) -> int:
    return user_shard(user_id, COUNT_SHARDS)


def counter(segment: str, shard: int) -> SegmentMember:
    return SegmentMember(COUNTS_PARTITION, f"{segment}#{shard:02d}")


def count_delta(tx: TransactWrite, segment: str, user_id: str, delta: int) -> None:
    """Add ``delta`` to the segment's counter for this user's shard, inside the membership transaction."""
    tx.update(
        counter(segment, count_shard(user_id)),
        actions=[SegmentMember.members.add(delta), SegmentMember.changes.add(1)],
    )


def _counter_key(key: str) -> tuple[str, int] | None:
    segment, sep, shard = key.rpartition("#")
    return (segment, int(shard)) if sep and shard.isdigit() else None


def bind(settings: Settings) -> None:
    """Point the models at the configured tables, region and (local) endpoint."""
    for model, table in ((ProfileRecord, settings.profiles_table), (SegmentMember, settings.segments_table)):
        model.Meta.table_name = table
        meta: Any = model.Meta
        meta.region = settings.region
        meta.host = settings.endpoint_url
        model._connection = None  # rebuilt lazily with the new settings


def encode_state(state: ProfileState) -> bytes:
    return zlib.compress(dump_state(state), level=6)


def decode_state(blob: bytes) -> ProfileState:
    return load_state(zlib.decompress(blob))


def _classify(exc: PynamoDBException) -> Exception:
    code = exc.cause_response_code
    if code in CONFLICT_CODES:
        return StoreConflict(str(exc))
    if isinstance(exc, TransactWriteError) and code == "TransactionCanceledException":
        reasons = [r.code for r in exc.cancellation_reasons if r is not None]
        if "ConditionalCheckFailed" in reasons:
            return StoreConflict(f"transaction cancelled: {reasons}")
    return TransientFailure(f"{type(exc).__name__}: {code or exc}")


def _call[T](fn: Callable[[], T]) -> T:
    try:
        return fn()
    except PynamoDBException as exc:
        raise _classify(exc) from exc


def _only_contention(exc: TransactWriteError) -> bool:
    """Cancelled because another transaction held one of its items (a shared counter), nothing else."""
    reasons = {r.code for r in exc.cancellation_reasons if r is not None and r.code != "None"}
    return exc.cause_response_code == "TransactionCanceledException" and reasons == {"TransactionConflict"}


def _transact(connection: Connection, build: Callable[[TransactWrite], None]) -> None:
    """One ``TransactWriteItems``; sent again (same content) while it only lost a race for a counter."""
    for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
        try:
            with TransactWrite(connection=connection) as tx:
                build(tx)
            return
        except TransactWriteError as exc:
            if attempt < TRANSACTION_ATTEMPTS and _only_contention(exc):
                time.sleep(random.uniform(0.005, 0.025) * attempt)
                continue
            raise _classify(exc) from exc
        except PynamoDBException as exc:
            raise _classify(exc) from exc


class DynamoProfileStore(ProfileStore, DueProfiles):
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._transactions: Connection | None = None
        bind(settings)

    def load(self, user_id: str) -> StoredProfile | None:
        def get() -> ProfileRecord | None:
            try:
                return ProfileRecord.get(user_id, consistent_read=True)
            except ProfileRecord.DoesNotExist:
                return None

        record = _call(get)
        if record is None:
            return None
        return StoredProfile(state=decode_state(record.state), version=int(record.version))

    def save(self, update: ProfileUpdate, expected_version: int | None) -> None:
        profile = update.state.profile
        due_at = update.state.due_at
        record = ProfileRecord(
            profile.user_id,
            version=profile.version,
            state=encode_state(update.state),
            updated_at=profile.updated_at,
            due_shard=None if due_at is None else due_shard(profile.user_id),
            due_at=due_at,
        )
        condition: Any
        if expected_version is None:
            condition = ProfileRecord.user_id.does_not_exist()
        else:
            condition = ProfileRecord.version == expected_version
        if not update.joined and not update.left:
            _call(lambda: record.save(condition=condition))
            return
        now = time.time()
        user_id = profile.user_id

        def build(tx: TransactWrite) -> None:
            tx.save(record, condition=condition)
            for name in update.joined:
                tx.save(SegmentMember(name, user_id, joined_at=now))
                count_delta(tx, name, user_id, +1)
            for name in update.left:
                tx.delete(SegmentMember(name, user_id))
                count_delta(tx, name, user_id, -1)

        _transact(self._connection(), build)

    def erase(self, user_id: str) -> bool:
        stored = self.load(user_id)
        if stored is None:
            return False
        version = stored.version

        def build(tx: TransactWrite) -> None:
            tx.delete(ProfileRecord(user_id), condition=ProfileRecord.version == version)
            for name in stored.state.profile.segments:
                tx.delete(SegmentMember(name, user_id))
                count_delta(tx, name, user_id, -1)

        _transact(self._connection(), build)
        return True

    def user_ids(self, part: int = 0, parts: int = 1, start: dict[str, Any] | None = None) -> "UserScan":
        """Every profile's user id, or those of one part of a parallel Scan (for one-off
        re-evaluation, never a request)."""
        return UserScan(part, parts, start)

    def due(self, now: float, limit: int) -> list[str]:
        def query() -> list[str]:
            users: list[str] = []
            for shard in range(DUE_SHARDS):
                left = limit - len(users)
                if left <= 0:
                    break
                found = ProfileRecord.due_index.query(
                    str(shard), DueIndex.due_at <= now, limit=left, page_size=min(left, 1000)
                )
                users.extend(r.user_id for r in found)
            return users

        return _call(query)

    def _connection(self) -> Connection:
        """The connection transactions go through, made once: each new one builds a botocore session
        and client, which cost 60-90 ms of CPU, more than the transaction itself."""
        if self._transactions is None:
            self._transactions = Connection(region=self._settings.region, host=self._settings.endpoint_url)
        return self._transactions


class UserScan:
    """The user ids of one part of a paginated, keys-only, parallel Scan of the profiles table.
    ``resume_key`` is where a later scan of the same part continues after the last id taken
    (None once every id was taken)."""

    def __init__(self, part: int, parts: int, start: dict[str, Any] | None) -> None:
        segments: dict[str, Any] = {"segment": part, "total_segments": parts} if parts > 1 else {}
        self._results = ProfileRecord.scan(
            attributes_to_get=["user_id"], page_size=1000, last_evaluated_key=start, **segments
        )

    def __iter__(self) -> Iterator[str]:
        try:
            for record in self._results:
                yield record.user_id
        except PynamoDBException as exc:
            raise _classify(exc) from exc

    @property
    def resume_key(self) -> dict[str, Any] | None:
        return self._results.last_evaluated_key


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None, segment: str) -> dict[str, Any] | None:
    """A cursor from a previous page; ValueError if it was not made for this segment."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("cursor is not one this API returned") from exc
    if (
        not isinstance(key, dict)
        or set(key) != {"segment", "user_id"}
        or key.get("segment") != {"S": segment}
        or not isinstance(key.get("user_id"), dict)
        or not isinstance(key["user_id"].get("S"), str)
    ):
        raise ValueError("cursor is not one this API returned for this segment")
    return key


class DynamoSegmentDirectory(SegmentDirectory):
    def __init__(self, settings: Settings) -> None:
        bind(settings)

    def members(self, segment: str, limit: int, cursor: str | None) -> Page:
        start = decode_cursor(cursor, segment)

        def query() -> Page:
            result = SegmentMember.query(segment, limit=limit, last_evaluated_key=start, page_size=limit)
            items = [{"user_id": m.user_id, "joined_at": m.joined_at} for m in result]
            return Page(items=items, cursor=encode_cursor(result.last_evaluated_key))

        return _call(query)

    def counts(self) -> dict[str, int]:
        def query() -> dict[str, int]:
            totals: dict[str, int] = {}
            for item in SegmentMember.query(COUNTS_PARTITION, page_size=1000):
                key = _counter_key(item.user_id)
                if key is not None:
                    totals[key[0]] = totals.get(key[0], 0) + int(item.members or 0)
            return totals

        return _call(query)

    def generated_segments(self) -> list[str]:
        def query() -> list[str]:
            names = {m.user_id for m in SegmentMember.query(FAMILIES_PARTITION)}
            names.update(self.counts())
            return sorted(n for n in names if catalog().family_of(n) is not None)

        return _call(query)

    def recount(self, segment: str) -> int:
        """Set the segment's counters to its exact membership, safe while events flow: a shard whose
        counter changed while the members were read is counted again (no change means no membership
        in that shard changed either, since both change in one transaction)."""

        def shard_changes() -> dict[int, int | None]:
            found: dict[int, int | None] = {}
            for item in SegmentMember.query(
                COUNTS_PARTITION,
                SegmentMember.user_id.startswith(f"{segment}#"),
                consistent_read=True,
            ):
                key = _counter_key(item.user_id)
                if key is not None and key[0] == segment:
                    found[key[1]] = None if item.changes is None else int(item.changes)
            return found

        def settle() -> int:
            todo = set(range(COUNT_SHARDS))
            exact: dict[int, int] = {}
            for _ in range(RECOUNT_ROUNDS):
                before = shard_changes()
                members = [0] * COUNT_SHARDS
                for m in SegmentMember.query(segment, consistent_read=True, attributes_to_get=["user_id"]):
                    members[count_shard(m.user_id)] += 1
                for shard in sorted(todo):
                    seen = before.get(shard, -1)
                    if seen == -1 and members[shard] == 0:
                        exact[shard] = 0  # never counted and empty: nothing to write
                        continue
                    unchanged = (
                        SegmentMember.changes.does_not_exist() if seen in (-1, None) else SegmentMember.changes == seen
                    )
                    try:
                        counter(segment, shard).update(
                            actions=[SegmentMember.members.set(members[shard])], condition=unchanged
                        )
                    except UpdateError as exc:
                        if exc.cause_response_code != "ConditionalCheckFailedException":
                            raise
                        continue  # a membership changed while counting: next round
                    exact[shard] = members[shard]
                todo -= set(exact)
                if not todo:
                    return sum(exact.values())
            raise TransientFailure(f"segment {segment} kept changing in shards {sorted(todo)}; run it again")

        return _call(settle)
