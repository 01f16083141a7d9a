"""DynamoDB tables (pynamodb models), how users are spread over partitions, and how calls fail.

Profiles table, one item per user:
  ``user_id`` (hash key), ``version`` (optimistic lock, equals the profile's version),
  ``state`` (``codec.encode_state``: profile + idempotency state), ``updated_at``,
  and, only while a segment membership is due to change with time, ``due_at`` and ``due_shard``: the
  sparse index ``due`` (``due_shard`` hash, ``due_at`` range, keys only) lists those users by due time,
  spread over ``DUE_SHARDS`` partitions so no one partition takes every write.
Segments table, one item per (segment, user):
  ``segment`` (hash key), ``user_id`` (range key), ``joined_at``. The partition ``#counts`` holds each
  segment's member count as ``COUNT_SHARDS`` counter items (range key ``<segment>#<shard>``, the
  user's shard as for ``due_shard``; ``members``, and ``changes``, how often it was updated), so
  ``GET /segments`` is one small Query however large the audiences, and concurrent writers rarely
  touch the same counter.

Errors: a lost optimistic lock is ``StoreConflict``; throttling and service errors are
``TransientFailure``. A transaction cancelled only because another one held a counter at the same
moment (``TransactionConflict``) is sent again, after a short random pause.
"""

import random
import time
from binascii import crc32
from collections.abc import Callable
from typing import Any, TypeVar

from pynamodb.attributes import BinaryAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from pulse.config import Settings
from pulse.ports import PermanentFailure, StoreConflict, TransientFailure

COUNTS_PARTITION = "#counts"
COUNT_SHARDS = 16
DUE_INDEX = "due"
DUE_SHARDS = 16
TRANSACTION_ATTEMPTS = 4  # sends of a transaction cancelled by a conflict on a shared counter
CONFLICT_CODES = {"ConditionalCheckFailedException"}
# refused for good: an item over 400 KB, an invalid attribute value. Sending again cannot succeed.
PERMANENT_CODES = {"ValidationException", "ItemCollectionSizeLimitExceededException"}
T = TypeVar("T")


class DueIndex(GlobalSecondaryIndex["ProfileRecord"]):  # type: ignore[no-untyped-call,unused-ignore]  # pynamodb's hook
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
    state = BinaryAttribute(legacy_encoding=False, null=True)  # absent on a tombstone
    updated_at = NumberAttribute()
    erased_until = NumberAttribute(null=True)  # a tombstone: events of the user are dropped until then
    expires_at = NumberAttribute(null=True)  # DynamoDB's TTL removes the tombstone a day after
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
    changes = NumberAttribute(null=True)  # counters: updates so far (recount's check); definitions: version
    body = UnicodeAttribute(null=True)  # in DEFINITIONS_PARTITION only: a runtime definition as JSON


OUTBOX_PREFIX = "#outbox#"  # + shard: notices written with profiles, waiting to be published


def outbox_partition(user_id: str) -> str:
    return f"{OUTBOX_PREFIX}{user_shard(user_id, COUNT_SHARDS):02d}"


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


def counter_key(key: str) -> tuple[str, int] | None:
    segment, sep, shard = key.rpartition("#")
    return (segment, int(shard)) if sep and shard.isdigit() else None


def bind(settings: Settings) -> None:
    """Point the models at the configured tables, region and (local) endpoint. pynamodb keeps this on
    the model classes, so one process serves one stack; the function's wiring calls it once."""
    for model, table in ((ProfileRecord, settings.profiles_table), (SegmentMember, settings.segments_table)):
        model.Meta.table_name = table
        meta: Any = model.Meta
        meta.region = settings.region
        meta.host = settings.endpoint_url
        model._connection = None  # rebuilt lazily with the new settings


def classify(exc: PynamoDBException) -> Exception:
    code = exc.cause_response_code
    if code in CONFLICT_CODES:
        return StoreConflict(str(exc))
    if code in PERMANENT_CODES:
        return PermanentFailure(f"{code}: {exc.cause_response_message or exc}")
    if isinstance(exc, TransactWriteError) and code == "TransactionCanceledException":
        reasons = [r.code for r in exc.cancellation_reasons if r is not None]
        if "ConditionalCheckFailed" in reasons:
            return StoreConflict(f"transaction cancelled: {reasons}")
        if "ValidationError" in reasons:
            return PermanentFailure(f"transaction cancelled: {reasons}")
    return TransientFailure(f"{type(exc).__name__}: {code or exc}")


def call[T](fn: Callable[[], T]) -> T:
    try:
        return fn()
    except PynamoDBException as exc:
        raise classify(exc) from exc


def only_contention(exc: TransactWriteError) -> bool:
    """Cancelled because another transaction held one of its items (a shared counter), nothing else."""
    reasons = {r.code for r in exc.cancellation_reasons if r is not None and r.code != "None"}
    return exc.cause_response_code == "TransactionCanceledException" and reasons == {"TransactionConflict"}


def transact(connection: Connection, build: Callable[[TransactWrite], None]) -> None:
    """One ``TransactWriteItems``; sent again (same content) while it only lost a race for a counter."""
    for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
        try:
            with TransactWrite(connection=connection) as tx:
                build(tx)
            return
        except TransactWriteError as exc:
            if attempt < TRANSACTION_ATTEMPTS and only_contention(exc):
                time.sleep(random.uniform(0.005, 0.025) * attempt)
                continue
            raise classify(exc) from exc
        except PynamoDBException as exc:
            raise classify(exc) from exc
