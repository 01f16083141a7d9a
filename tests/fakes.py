"""In-memory fakes of the ports, and fault fakes that fail the way AWS does."""

from __future__ import annotations

from collections.abc import Sequence

from pulse.adapters.ports import (
    DeadLetter,
    DeadLetterSink,
    DueProfiles,
    Page,
    ProfileStore,
    SegmentDirectory,
    StoreConflict,
    StoredProfile,
    TransientFailure,
)
from pulse.domain.updater import ProfileUpdate, dump_state, load_state


class MemoryProfileStore(ProfileStore, SegmentDirectory, DueProfiles):
    def __init__(self) -> None:
        self.items: dict[str, tuple[bytes, int]] = {}  # user -> (state json, version)
        self.members: dict[str, set[str]] = {}
        self.writes = 0
        self.reads = 0

    def load(self, user_id: str) -> StoredProfile | None:
        self.reads += 1
        found = self.items.get(user_id)
        if found is None:
            return None
        return StoredProfile(load_state(found[0]), found[1])

    def save(self, update: ProfileUpdate, expected_version: int | None) -> None:
        user = update.state.profile.user_id
        current = self.items.get(user)
        if (current is None) != (expected_version is None) or (current and current[1] != expected_version):
            raise StoreConflict(user)
        self.writes += 1
        self.items[user] = (dump_state(update.state), update.state.profile.version)
        for name in update.joined:
            self.members.setdefault(name, set()).add(user)
        for name in update.left:
            self.members.get(name, set()).discard(user)

    def erase(self, user_id: str) -> bool:
        found = self.items.pop(user_id, None)
        for users in self.members.values():
            users.discard(user_id)
        return found is not None

    def due(self, now: float, limit: int) -> list[str]:
        states = {user: load_state(blob) for user, (blob, _) in sorted(self.items.items())}
        return [u for u, s in states.items() if s.due_at is not None and s.due_at <= now][:limit]

    def profile(self, user_id: str):
        stored = self.load(user_id)
        return stored.state.profile if stored else None

    def members_page(self, segment: str) -> list[str]:
        return sorted(self.members.get(segment, set()))

    def members(self, segment: str, limit: int, cursor: str | None) -> Page:  # type: ignore[override]
        users = self.members_page(segment)
        start = int(cursor or 0)
        nxt = start + limit
        return Page([{"user_id": u} for u in users[start:nxt]], str(nxt) if nxt < len(users) else None)

    def counts(self) -> dict[str, int]:
        return {name: len(users) for name, users in self.members.items()}

    def generated_segments(self) -> list[str]:
        return sorted(s for s in self.members if s.startswith("fan:"))

    def recount(self, segment: str) -> int:
        return len(self.members.get(segment, set()))


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
