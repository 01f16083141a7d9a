"""Ports: what the use cases need from the outside world, as small interfaces.

The DynamoDB / SQS / Kinesis adapters implement them; tests use in-memory fakes and fault fakes.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pulse.access import Client
from pulse.domain.activation import Notice
from pulse.domain.activity import Tally
from pulse.domain.catalog import CatalogItem
from pulse.domain.erasure import ErasureCounts, ErasureJob
from pulse.domain.experiment_results import Totals
from pulse.domain.experiments import Experiment
from pulse.domain.exports import ExportJob
from pulse.domain.segment_rules import StoredSegment
from pulse.domain.updater import ProfileState, ProfileUpdate


class StoreConflict(Exception):
    """The profile changed since it was read (optimistic lock lost); re-read and re-apply."""


class TransientFailure(Exception):
    """Throttling, timeouts, service errors: the same call may succeed later."""


class PermanentFailure(Exception):
    """The store refused the write for good (an item over DynamoDB's size limit, an invalid value):
    sending it again can never succeed, so the events behind it go to the dead letters."""


class UndecodableProfile(PermanentFailure):
    """A stored profile that cannot be decoded (damaged, or written by a broken release). Its events
    are dead-lettered; it can still be erased."""

    def __init__(self, user_id: str, version: int, cause: str) -> None:
        super().__init__(f"stored profile of {user_id} (version {version}) cannot be decoded: {cause}")
        self.user_id, self.version = user_id, version


@dataclass(frozen=True)
class StoredProfile:
    state: ProfileState
    version: int
    erased_until: float | None = None  # a tombstone left by an erasure (its state is empty)
    held: bool = False  # kept in memory by the store since this process wrote it: no read was made

    def erased_at(self, now: float) -> bool:
        """Erased and still within the tombstone's period: the user's events must not recreate it."""
        return self.erased_until is not None and now < self.erased_until

    @property
    def is_tombstone(self) -> bool:
        return self.erased_until is not None


@dataclass(frozen=True)
class Membership:
    user_id: str
    joined_at: float | None


@dataclass(frozen=True)
class MemberPage:
    members: list[Membership]
    last_key: dict[str, Any] | None  # where the next page starts; None after the last page


class ProfileStore(ABC):
    @abstractmethod
    def load(self, user_id: str) -> StoredProfile | None:
        """The user's profile and idempotency state, read consistently; None if unknown."""

    @abstractmethod
    def save(self, update: ProfileUpdate, expected_version: int | None) -> None:
        """One conditional write: the profile and its segment membership changes.

        ``expected_version`` None means "must not exist yet". Raises ``StoreConflict`` when the
        stored version differs and ``TransientFailure`` when the write may succeed on retry.
        """

    def load_many(self, user_ids: Sequence[str]) -> dict[str, StoredProfile]:
        """Several profiles (those that exist); stores that can read them in one call do."""
        found = {u: self.load(u) for u in user_ids}
        return {u: p for u, p in found.items() if p is not None}

    @abstractmethod
    def erase(self, user_id: str) -> bool:
        """Replace the profile by a tombstone (its idempotency state and every segment membership
        go), so events in flight or sent again do not recreate it for the configured period; False
        if there was no profile."""


class DueProfiles(ABC):
    @abstractmethod
    def due(self, now: float, limit: int) -> list[str]:
        """Up to ``limit`` users whose segment memberships are due to change with time by ``now``
        (``ProfileState.due_at``), read from an index: never a scan of every profile."""


class SegmentDirectory(ABC):
    @abstractmethod
    def members(self, segment: str, limit: int, start: dict[str, Any] | None) -> MemberPage:
        """One page of a segment's audience from ``start`` (a Query on the segment's partition); keys
        are DynamoDB's ``{"segment": {"S": ...}, "user_id": {"S": ...}}``, which the HTTP layer
        turns into cursors."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Members per segment, for every segment that has had a member: counters kept in step with
        the memberships by the same writes, read at once (never a count over the audiences)."""

    @abstractmethod
    def generated_segments(self) -> list[str]:
        """Names of generated segments (families such as ``fan:<category>``) that ever had a member."""

    @abstractmethod
    def recount(self, segment: str) -> int:
        """Set the segment's counters to its exact membership (an operator's repair, not a request);
        returns that count."""


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    payload: bytes
    shard_id: str
    sequence_number: str
    event_source_arn: str | None = None
    arrival: float | None = None
    partition_key: str | None = None


class DeadLetterSink(ABC):
    @abstractmethod
    def send(self, letters: Sequence[DeadLetter]) -> list[DeadLetter]:
        """Send letters; returns those that could not be sent (transient)."""


class EventPublisher(ABC):
    @abstractmethod
    def publish(self, records: Sequence[tuple[str, bytes]]) -> list[int]:
        """Put (partition key, data) records on the stream; returns indexes that finally failed."""


class ClientDirectory(ABC):
    @abstractmethod
    def find(self, token: str) -> Client | None:
        """The credential's client, revoked or not; None when no client holds it."""


class ErasureJobs(ABC):
    @abstractmethod
    def put(self, job: ErasureJob) -> None:
        """Store the job's record (created or updated)."""

    @abstractmethod
    def get(self, erasure_id: str) -> ErasureJob | None:
        """The job's record; None for an unknown id."""


class ErasureQueue(ABC):
    @abstractmethod
    def submit(self, erasure_id: str, user_id: str) -> None:
        """Ask the eraser to run the job (after the queue's delay)."""


class RawDataEraser(ABC):
    @abstractmethod
    def erase(self, user_ids: frozenset[str]) -> dict[str, ErasureCounts]:
        """Remove the users' lines from the archive and their dead letters; what went, per user."""


@dataclass(frozen=True)
class CatalogChange:
    item_id: str
    blocked: bool  # unavailable or deleted: never recommended
    changed_at: float
    item: CatalogItem | None = None  # the item as written (None for a deletion)


class CatalogStore(ABC):
    @abstractmethod
    def get(self, item_id: str) -> CatalogItem | None:
        """The item; None when it does not exist or was deleted."""

    @abstractmethod
    def put(self, item: CatalogItem, expected_updated_at: float | None = None) -> bool:
        """Store the item (only if it is unchanged since ``expected_updated_at``, when given:
        ``StoreConflict`` otherwise); whether an item of that id existed."""

    @abstractmethod
    def put_many(self, items: Sequence[CatalogItem]) -> list[int]:
        """Store the items; the positions of those that could not be stored (transient)."""

    @abstractmethod
    def delete(self, item_id: str) -> bool:
        """Delete (a tombstone every serving copy sees); whether the item existed."""

    @abstractmethod
    def blocked(self) -> set[str]:
        """Every item that must not be recommended now (unavailable or deleted)."""

    @abstractmethod
    def changes(self, since: float) -> list[CatalogChange]:
        """Items written after ``since`` (epoch seconds), blocked or not."""

    @abstractmethod
    def latest(self, limit: int) -> list[CatalogChange]:
        """The ``limit`` most recently written items, newest first (a serving copy's start)."""


class ActivityStore(ABC):
    @abstractmethod
    def add(self, tallies: dict[tuple[str, str], Tally]) -> int:
        """Add the tallies to their (bucket, item) counters; how many could not be written."""

    @abstractmethod
    def totals(self, buckets: Sequence[str]) -> dict[str, float]:
        """Item id -> summed weight over the buckets (the items of those buckets only)."""

    @abstractmethod
    def add_counts(self, bucket: str, row: str, counts: dict[str, int], expires_at: int) -> bool:
        """Add each count to the row's counter of that name (one write); False when it was not taken."""

    @abstractmethod
    def counts(self, buckets: Sequence[str], row: str) -> dict[str, dict[str, int]]:
        """Bucket -> the row's counters there, for the buckets where the row exists."""


class ExperimentStore(ABC):
    """Experiment definitions and their counters."""

    @abstractmethod
    def definitions(self) -> list[Experiment]: ...

    @abstractmethod
    def get(self, experiment_id: str) -> Experiment | None: ...

    @abstractmethod
    def put(self, experiment: Experiment, expected_version: int | None) -> None:
        """Store; ``StoreConflict`` if the stored version is not ``expected_version`` (None: new)."""

    @abstractmethod
    def expose(self, experiment_id: str, variant: str, user_id: str, day: str, counted_before: bool = False) -> bool:
        """Count one exposure of ``variant`` (and the user, on their first: then True)."""

    @abstractmethod
    def forget_user(self, user_id: str) -> None:
        """Delete the records that the user was exposed (an erasure)."""

    @abstractmethod
    def totals(self, experiment_id: str) -> dict[str, Totals]:
        """Each variant's counters, summed over shards and days."""


class SegmentDefinitions(ABC):
    """Segment definitions stored at runtime (the built-in ones live in the code)."""

    @abstractmethod
    def stored(self) -> list[StoredSegment]: ...

    @abstractmethod
    def put(self, segment: StoredSegment, expected_version: int | None) -> None:
        """Store; ``StoreConflict`` if the stored version is not ``expected_version`` (None: new)."""


@dataclass(frozen=True)
class PendingNotice:
    """A notice in the outbox: written with its profile, not yet known to be published."""

    notice: Notice
    user_id: str
    written_at: float


class NoticeOutbox(ABC):
    @abstractmethod
    def pending(self, written_before: float, limit: int) -> list[PendingNotice]: ...

    @abstractmethod
    def remove(self, done: Sequence[PendingNotice]) -> None: ...


class NoticePublisher(ABC):
    @abstractmethod
    def publish(self, notices: Sequence[Notice]) -> list[tuple[Notice, str, bool]]:
        """Put them on the bus; returns those refused, each with the reason and whether sending it
        again could succeed (throttling) or never will (a malformed event)."""


class ExportJobs(ABC):
    @abstractmethod
    def put(self, job: ExportJob) -> None: ...

    @abstractmethod
    def get(self, export_id: str) -> ExportJob | None: ...


class ExportQueue(ABC):
    @abstractmethod
    def submit(self, export_id: str) -> None: ...


class ExportWriter(ABC):
    @abstractmethod
    def write(self, data: bytes) -> None: ...

    @abstractmethod
    def close(self) -> None:
        """The file is complete and readable."""

    @abstractmethod
    def abort(self) -> None:
        """Nothing of it is left behind."""


class ExportFiles(ABC):
    @abstractmethod
    def open(self, key: str, content_type: str) -> ExportWriter: ...

    @abstractmethod
    def url(self, key: str, seconds: int) -> str:
        """A download URL that works for ``seconds``."""
