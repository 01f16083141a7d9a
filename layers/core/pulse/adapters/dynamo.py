"""DynamoDB adapters (pynamodb): the profile store and the segment directory.

Profiles table, one item per user:
  ``user_id`` (hash key), ``version`` (optimistic lock, equals the profile's version),
  ``state`` (zlib-compressed JSON of ``ProfileState``: profile + idempotency state), ``updated_at``,
  and, only while a segment membership is due to change with time, ``due_at`` and ``due_shard``: the
  sparse index ``due`` (``due_shard`` hash, ``due_at`` range, keys only) lists those users by due time,
  spread over ``DUE_SHARDS`` partitions so no one partition takes every write.
Segments table, one item per (segment, user):
  ``segment`` (hash key), ``user_id`` (range key), ``joined_at``. The partition ``#families`` lists the
  generated segment names (``fan:<category>``) seen so far, so ``GET /segments`` needs no scan.

A batch's changes for one user are one call: ``UpdateItem``/``PutItem`` with a version condition, or,
when segment memberships change, one ``TransactWriteItems`` holding the same conditional profile write
plus the membership puts and deletes (all or nothing, so memberships never drift from profiles).
"""

import base64
import binascii
import json
import time
import zlib
from binascii import crc32
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from pynamodb.attributes import BinaryAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
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

FAMILIES_PARTITION = "#families"
DUE_INDEX = "due"
DUE_SHARDS = 16
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


def due_shard(user_id: str) -> str:
    return str(crc32(user_id.encode()) % DUE_SHARDS)


class SegmentMember(Model):
    class Meta:
        table_name = "pulse-segments"

    segment = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)
    joined_at = NumberAttribute(null=True)


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


class DynamoProfileStore(ProfileStore, DueProfiles):
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
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

        def transact() -> None:
            with TransactWrite(connection=self._connection()) as tx:
                tx.save(record, condition=condition)
                for name in update.joined:
                    tx.save(SegmentMember(name, profile.user_id, joined_at=now))
                    if catalog().family_of(name) is not None:
                        tx.save(SegmentMember(FAMILIES_PARTITION, name))
                for name in update.left:
                    tx.delete(SegmentMember(name, profile.user_id))

        _call(transact)

    def erase(self, user_id: str) -> bool:
        stored = self.load(user_id)
        if stored is None:
            return False
        version = stored.version

        def transact() -> None:
            with TransactWrite(connection=self._connection()) as tx:
                tx.delete(ProfileRecord(user_id), condition=ProfileRecord.version == version)
                for name in stored.state.profile.segments:
                    tx.delete(SegmentMember(name, user_id))

        _call(transact)
        return True

    def user_ids(self) -> Iterator[str]:
        """Every profile's user id: a paginated keys-only Scan (for one-off re-evaluation, never a request)."""
        try:
            for record in ProfileRecord.scan(attributes_to_get=["user_id"], page_size=1000):
                yield record.user_id
        except PynamoDBException as exc:
            raise _classify(exc) from exc

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
        return Connection(region=self._settings.region, host=self._settings.endpoint_url)


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

    def count(self, segment: str) -> int:
        return _call(lambda: SegmentMember.count(segment))

    def family_segments(self) -> list[str]:
        return _call(lambda: [m.user_id for m in SegmentMember.query(FAMILIES_PARTITION)])
