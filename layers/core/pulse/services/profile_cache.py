"""The profiles an updater container wrote last, kept to skip the next read and decode.

A stream shard sends a user's events to the same updater again and again: reading the profile back
(a strongly consistent GetItem, 9 read units for a grown profile) and decoding it (about 190 us of
Python objects for 35 KB) only to find what this container wrote a moment ago is most of the codec's
cost for active users. ``CachedProfileStore`` keeps, per user, the state it last saved with that
write's version, and hands it back instead of a read.

Nothing here weakens the exactly-once write: every save is still conditional on the version the state
was read at. If anything else wrote the profile since (another container after a reshard or with
``ParallelizationFactor`` over 1, an erasure, the segment refresher), the version differs, the write
fails with ``StoreConflict``, the entry is dropped and the updater re-reads and re-applies, as it does
for any lost lock. Versions only grow while an item exists (a profile made over a tombstone continues
from the tombstone's version), and entries older than ``max_age`` seconds are never used, far below
the day a tombstone lives at least, so a cached version cannot meet a different profile's same number.

A state handed out is owned by the caller (it is applied in place): the entry is taken out on
``load`` and only a successful ``save`` puts the saved state back.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from pulse.domain.updater import ProfileUpdate
from pulse.ports import ProfileStore, StoredProfile


class CachedProfileStore(ProfileStore):
    def __init__(
        self,
        inner: ProfileStore,
        entries: int,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.entries, self.max_age, self._clock = entries, max_age, clock
        self._held: OrderedDict[str, tuple[StoredProfile, float]] = OrderedDict()
        self._lock = threading.Lock()  # the updater applies a batch's users on threads
        self.hits = self.misses = 0

    def load(self, user_id: str) -> StoredProfile | None:
        with self._lock:
            held = self._held.pop(user_id, None)
            fresh = held is not None and self._clock() - held[1] <= self.max_age
            if fresh:
                self.hits += 1
            else:
                self.misses += 1
        if held is not None and fresh:
            return held[0]
        return self.inner.load(user_id)

    def save(self, update: ProfileUpdate, expected_version: int | None) -> None:
        user_id = update.state.profile.user_id
        self.forget(user_id)
        self.inner.save(update, expected_version)  # a failure leaves nothing held: the next load reads
        if self.entries <= 0:
            return
        saved = StoredProfile(update.state, update.state.profile.version)
        with self._lock:
            self._held[user_id] = (saved, self._clock())
            while len(self._held) > self.entries:
                self._held.popitem(last=False)  # the least recently written

    def load_many(self, user_ids: Sequence[str]) -> dict[str, StoredProfile]:
        return self.inner.load_many(user_ids)

    def erase(self, user_id: str) -> bool:
        self.forget(user_id)
        return self.inner.erase(user_id)

    def forget(self, user_id: str) -> None:
        with self._lock:
            self._held.pop(user_id, None)

    def __len__(self) -> int:
        return len(self._held)
