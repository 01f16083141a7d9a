"""In-memory fakes of the ports, and fault fakes that fail the way AWS does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pulse.domain.activity import Tally
from pulse.domain.catalog import CatalogItem
from pulse.domain.erasure import ErasureCounts, ErasureJob
from pulse.domain.profile import UserProfile
from pulse.domain.updater import ProfileState, ProfileUpdate, dump_state, load_state
from pulse.ports import (
    ActivityStore,
    CatalogChange,
    CatalogStore,
    DeadLetter,
    DeadLetterSink,
    DueProfiles,
    ErasureJobs,
    ErasureQueue,
    EventPublisher,
    MemberPage,
    Membership,
    PermanentFailure,
    ProfileStore,
    RawDataEraser,
    SegmentDirectory,
    StoreConflict,
    StoredProfile,
    TransientFailure,
)

if TYPE_CHECKING:
    from pulse.recommend.artifacts import Fetched


class MemoryProfileStore(ProfileStore, SegmentDirectory, DueProfiles):
    def __init__(self, tombstone_seconds: float = 7 * 86400.0, clock: Any = None) -> None:
        import time

        self.items: dict[str, tuple[bytes, int]] = {}  # user -> (state json, version)
        self.tombstones: dict[str, tuple[float, int]] = {}  # user -> (erased until, version)
        self.tombstone_seconds = tombstone_seconds
        self.clock = clock or time.time
        self.audiences: dict[str, dict[str, float]] = {}  # segment -> user -> joined at
        self.writes = 0
        self.reads = 0
        self.outcomes: dict[tuple[str, str, str], dict[str, float]] = {}  # experiment counters, as written
        self.outbox: dict[str, Any] = {}  # notice id -> PendingNotice, written with the profile

    def load(self, user_id: str) -> StoredProfile | None:
        self.reads += 1
        found = self.items.get(user_id)
        if found is None:
            if user_id in self.tombstones:
                until, version = self.tombstones[user_id]
                return StoredProfile(ProfileState(UserProfile.new(user_id, 0.0, 14.0)), version, erased_until=until)
            return None
        return StoredProfile(load_state(found[0]), found[1])

    def save(self, update: ProfileUpdate, expected_version: int | None) -> None:
        user = update.state.profile.user_id
        current = self.items.get(user)
        stone = self.tombstones.get(user)
        if stone is not None and current is None:
            if expected_version != stone[1]:
                raise StoreConflict(user)
            del self.tombstones[user]
        elif (current is None) != (expected_version is None) or (current and current[1] != expected_version):
            raise StoreConflict(user)
        self.writes += 1
        self.items[user] = (dump_state(update.state), update.state.profile.version)
        for name in update.joined:
            self.audiences.setdefault(name, {})[user] = update.state.profile.updated_at
        for name in update.left:
            self.audiences.get(name, {}).pop(user, None)
        from pulse.ports import PendingNotice

        for notice in update.notices:
            self.outbox[notice.notice_id] = PendingNotice(notice, user, self.clock())
        for key, deltas in update.outcomes.items():
            into = self.outcomes.setdefault(key, {})
            for name, value in deltas.items():
                into[name] = into.get(name, 0) + value

    def erase(self, user_id: str) -> bool:
        found = self.items.pop(user_id, None)
        for users in self.audiences.values():
            users.pop(user_id, None)
        version = found[1] if found else self.tombstones.get(user_id, (0.0, 0))[1]
        self.tombstones[user_id] = (self.clock() + self.tombstone_seconds, version + 1)
        return found is not None

    def due(self, now: float, limit: int) -> list[str]:
        states = {user: load_state(blob) for user, (blob, _) in sorted(self.items.items())}
        return [u for u, s in states.items() if s.due_at is not None and s.due_at <= now][:limit]

    def profile(self, user_id: str):
        stored = self.load(user_id)
        return stored.state.profile if stored else None

    def members_page(self, segment: str) -> list[str]:
        return sorted(self.audiences.get(segment, {}))

    def members(self, segment: str, limit: int, start: dict[str, Any] | None) -> MemberPage:
        """Pages keyed like DynamoDB's: the next page starts after the last user of this one."""
        audience = self.audiences.get(segment, {})
        after = start["user_id"]["S"] if start else None
        users = [u for u in sorted(audience) if after is None or u > after]
        page = users[:limit]
        last = {"segment": {"S": segment}, "user_id": {"S": page[-1]}} if len(users) > limit else None
        return MemberPage([Membership(u, audience[u]) for u in page], last)

    def counts(self) -> dict[str, int]:
        return {name: len(users) for name, users in self.audiences.items() if users}

    def generated_segments(self) -> list[str]:
        return sorted(s for s in self.audiences if s.startswith("fan:"))

    def recount(self, segment: str) -> int:
        return len(self.audiences.get(segment, {}))


class ThrottlingStore(ProfileStore):
    """Wraps a store; the first ``times`` writes for ``user`` fail like a throttled DynamoDB."""

    def __init__(self, inner: ProfileStore, user: str, times: int = 1) -> None:
        self.inner, self.user, self.left = inner, user, times

    def load(self, user_id: str) -> StoredProfile | None:
        return self.inner.load(user_id)

    def save(self, update: ProfileUpdate, expected_version: int | None) -> None:
        if update.state.profile.user_id == self.user and self.left > 0:
            self.left -= 1
            raise TransientFailure("ProvisionedThroughputExceededException")
        self.inner.save(update, expected_version)

    def erase(self, user_id: str) -> bool:
        return self.inner.erase(user_id)


class MemoryDeadLetters(DeadLetterSink):
    def __init__(self, fail: bool = False) -> None:
        self.letters: list[DeadLetter] = []
        self.fail = fail

    def send(self, letters: Sequence[DeadLetter]) -> list[DeadLetter]:
        if self.fail:
            return list(letters)
        self.letters.extend(letters)
        return []


class MemoryPublisher(EventPublisher):
    """The stream: keeps what was put; ``refuse`` lists positions Kinesis keeps refusing."""

    def __init__(self, refuse: Sequence[int] = ()) -> None:
        self.records: list[tuple[str, bytes]] = []
        self.refuse = set(refuse)

    def publish(self, records: Sequence[tuple[str, bytes]]) -> list[int]:
        self.records += [r for i, r in enumerate(records) if i not in self.refuse]
        return sorted(i for i in self.refuse if i < len(records))


class MemoryModelSource:
    """A model bucket: versions by name and the promotion pointer."""

    def __init__(self) -> None:
        self.versions: dict[str, tuple[bytes, dict[str, bytes]]] = {}
        self.pointer: str | None = None
        self.fail_pointer = False

    def pointer_version(self) -> str | None:
        if self.fail_pointer:
            raise ConnectionError("S3 unreachable")
        return self.pointer

    def fetch(self, version: str) -> Fetched:
        from pulse.recommend.artifacts import ArtifactError, Fetched

        if version not in self.versions:
            raise ArtifactError(f"version {version} cannot be read")
        return Fetched(*self.versions[version])


class RefusingStore(ProfileStore):
    """Wraps a store; every write for ``user`` is refused for good, as DynamoDB refuses an item over
    its size limit (``ValidationException``)."""

    def __init__(self, inner: ProfileStore, user: str) -> None:
        self.inner, self.user = inner, user

    def load(self, user_id: str) -> StoredProfile | None:
        return self.inner.load(user_id)

    def save(self, update: ProfileUpdate, expected_version: int | None) -> None:
        if update.state.profile.user_id == self.user:
            raise PermanentFailure("ValidationException: Item size has exceeded the maximum allowed size")
        self.inner.save(update, expected_version)

    def erase(self, user_id: str) -> bool:
        return self.inner.erase(user_id)


class MemoryErasureJobs(ErasureJobs):
    def __init__(self) -> None:
        self.records: dict[str, str] = {}

    def put(self, job: ErasureJob) -> None:
        self.records[job.erasure_id] = job.to_json()

    def get(self, erasure_id: str) -> ErasureJob | None:
        found = self.records.get(erasure_id)
        return None if found is None else ErasureJob.from_json(found)


class MemoryErasureQueue(ErasureQueue):
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail = fail

    def submit(self, erasure_id: str, user_id: str) -> None:
        if self.fail:
            raise TransientFailure("queue unavailable")
        self.sent.append((erasure_id, user_id))


class MemoryRawData(RawDataEraser):
    """Archive lines per user; erasing removes them and reports how many went."""

    def __init__(self, lines: dict[str, int], fail: bool = False) -> None:
        self.lines = dict(lines)
        self.fail = fail

    def erase(self, user_ids: frozenset[str]) -> dict[str, ErasureCounts]:
        if self.fail:
            raise TransientFailure("bucket unavailable")
        return {u: ErasureCounts(lines_removed=self.lines.pop(u, 0)) for u in user_ids}


class MemoryCatalog(CatalogStore):
    """The catalogue table with its ``changes`` index: every write is a change at the store's clock."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[CatalogItem | None, float]] = {}
        self.clock = 1_000.0
        self.fail = False

    def _write(self, item_id: str, item: CatalogItem | None) -> bool:
        if self.fail:
            raise TransientFailure("throttled")
        self.clock += 1.0
        existed = self.rows.get(item_id, (None, 0.0))[0] is not None
        self.rows[item_id] = (item, self.clock)
        return existed

    def get(self, item_id: str) -> CatalogItem | None:
        return self.rows.get(item_id, (None, 0.0))[0]

    def put(self, item: CatalogItem, expected_updated_at: float | None = None) -> bool:
        current = self.get(item.item_id)
        if expected_updated_at is not None and (current is None or current.updated_at != expected_updated_at):
            raise StoreConflict(item.item_id)
        return self._write(item.item_id, item)

    def put_many(self, items: Sequence[CatalogItem]) -> list[int]:
        for item in items:
            self._write(item.item_id, item)
        return []

    def delete(self, item_id: str) -> bool:
        return self._write(item_id, None)

    def _change(self, item_id: str) -> CatalogChange:
        item, at = self.rows[item_id]
        return CatalogChange(item_id, item is None or not item.available, at, item)

    def blocked(self) -> set[str]:
        return {c.item_id for c in map(self._change, self.rows) if c.blocked}

    def changes(self, since: float) -> list[CatalogChange]:
        return [c for c in map(self._change, self.rows) if c.changed_at > since]

    def latest(self, limit: int) -> list[CatalogChange]:
        return sorted(map(self._change, self.rows), key=lambda c: -c.changed_at)[:limit]


class MemoryActivity(ActivityStore):
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], float] = {}
        self.events: dict[tuple[str, str], int] = {}
        self.counters: dict[tuple[str, str], dict[str, int]] = {}

    def add(self, tallies: dict[tuple[str, str], Tally]) -> int:
        for key, row in tallies.items():
            self.rows[key] = self.rows.get(key, 0.0) + row.weight
            self.events[key] = self.events.get(key, 0) + row.events
        return 0

    def totals(self, buckets: Sequence[str]) -> dict[str, float]:
        out: dict[str, float] = {}
        for (bucket, item), weight in self.rows.items():
            if bucket in buckets:
                out[item] = out.get(item, 0.0) + weight
        return out

    def add_counts(self, bucket: str, row: str, counts: dict[str, int], expires_at: int) -> bool:
        kept = self.counters.setdefault((bucket, row), {})
        for name, n in counts.items():
            kept[name] = kept.get(name, 0) + n
        return True

    def counts(self, buckets: Sequence[str], row: str) -> dict[str, dict[str, int]]:
        return {b: dict(self.counters[(b, row)]) for b in buckets if (b, row) in self.counters}
