"""The profile store on DynamoDB: one conditional write per user per batch.

A batch's changes for one user are one call: ``UpdateItem``/``PutItem`` with a version condition, or,
when segment memberships change or events are attributed to an experiment, one ``TransactWriteItems``
holding the same conditional profile write plus the membership puts and deletes and the counters'
increments (all or nothing, so memberships, counts and experiment outcomes never drift from profiles,
and a re-delivered event, skipped by the profile, adds nothing).
"""

import time
from collections.abc import Iterator, Sequence
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException
from pynamodb.transactions import TransactWrite

from pulse.adapters.codec import UndecodableState, decode_state, encode_state
from pulse.adapters.experiment_store import bind_experiments, counter_item, outcome_actions
from pulse.adapters.tables import (
    COUNTS_PARTITION,
    DUE_SHARDS,
    DueIndex,
    ProfileRecord,
    SegmentMember,
    bind,
    call,
    classify,
    count_delta,
    counter_key,
    due_shard,
    outbox_partition,
    transact,
)
from pulse.config import Settings
from pulse.domain.profile import UserProfile
from pulse.domain.segments import catalog
from pulse.domain.updater import ProfileState, ProfileUpdate
from pulse.ports import DueProfiles, ProfileStore, StoredProfile, UndecodableProfile


class DynamoProfileStore(ProfileStore, DueProfiles):
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._transactions: Connection | None = None
        bind(settings)
        bind_experiments(settings)

    def load(self, user_id: str) -> StoredProfile | None:
        def get() -> ProfileRecord | None:
            try:
                return ProfileRecord.get(user_id, consistent_read=True)
            except ProfileRecord.DoesNotExist:
                return None

        record = call(get)
        if record is None:
            return None
        if record.state is None:  # a tombstone
            return StoredProfile(
                self._empty(user_id), int(record.version), erased_until=float(record.erased_until or 0.0)
            )
        try:
            state = decode_state(record.state)
        except UndecodableState as exc:
            raise UndecodableProfile(user_id, int(record.version), str(exc)[:200]) from exc
        return StoredProfile(state=state, version=int(record.version))

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
        if not update.joined and not update.left and not update.outcomes and not update.notices:
            call(lambda: record.save(condition=condition))
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
            for (experiment_id, variant, day), deltas in sorted(update.outcomes.items()):
                tx.update(counter_item(experiment_id, variant, day, user_id), actions=outcome_actions(deltas))
            for notice in update.notices:  # the outbox: published after the write, swept if not
                partition = outbox_partition(user_id)
                tx.save(SegmentMember(partition, notice.notice_id, body=notice.to_json(), joined_at=now))

        transact(self._connection(), build)

    def load_many(self, user_ids: Sequence[str]) -> dict[str, StoredProfile]:
        """BatchGetItem, 100 keys a call (pynamodb sends the unprocessed keys again)."""

        def read() -> dict[str, StoredProfile]:
            out: dict[str, StoredProfile] = {}
            for record in ProfileRecord.batch_get(list(user_ids), consistent_read=True):
                if record.state is None:
                    continue  # a tombstone: erased
                try:
                    out[record.user_id] = StoredProfile(decode_state(record.state), int(record.version))
                except UndecodableState:
                    continue  # undecodable: exported as its id alone
            return out

        return call(read) if user_ids else {}

    def erase(self, user_id: str) -> bool:
        try:
            stored = self.load(user_id)
            segments = list(stored.state.profile.segments) if stored and not stored.is_tombstone else []
        except UndecodableProfile as exc:  # its memberships are read from the segments table instead
            stored = StoredProfile(self._empty(user_id), exc.version)
            segments = self._memberships_of(user_id)
        now = time.time()
        until = now + self._settings.erasure_tombstone_days * 86400.0
        tombstone = ProfileRecord(
            user_id,
            version=(stored.version + 1) if stored else 1,
            state=None,
            updated_at=now,
            erased_until=until,
            expires_at=int(until + 86400),
        )
        if stored is None or stored.is_tombstone:  # nothing to erase: (re)start the tombstone's period
            condition = (
                ProfileRecord.user_id.does_not_exist() if stored is None else ProfileRecord.version == stored.version
            )
            call(lambda: tombstone.save(condition=condition))
            return False
        version = stored.version

        def build(tx: TransactWrite) -> None:
            tx.save(tombstone, condition=ProfileRecord.version == version)
            for name in segments:
                tx.delete(SegmentMember(name, user_id))
                count_delta(tx, name, user_id, -1)

        transact(self._connection(), build)
        return True

    def _empty(self, user_id: str) -> ProfileState:
        """The state a tombstone or an undecodable profile stands for: nobody's profile."""
        return ProfileState(UserProfile.new(user_id, 0.0, self._settings.decay_half_life_days))

    def _memberships_of(self, user_id: str) -> list[str]:
        """The segments the user is a member of, from the segments table itself (every defined segment
        and every generated one that has a counter): for a profile whose own list cannot be read."""

        def read() -> list[str]:
            names = {s.name for s in catalog().segments}
            for item in SegmentMember.query(COUNTS_PARTITION, page_size=1000):
                key = counter_key(item.user_id)
                if key is not None:
                    names.add(key[0])
            keys = [(name, user_id) for name in sorted(names)]
            return sorted({m.segment for m in SegmentMember.batch_get(keys, consistent_read=True)})

        return call(read)

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

        return call(query)

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
            raise classify(exc) from exc

    @property
    def resume_key(self) -> dict[str, Any] | None:
        return self._results.last_evaluated_key
