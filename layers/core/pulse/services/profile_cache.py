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

The bound is memory, not a count. ``footprint`` is an upper estimate of a state's Python objects:
16 KB plus 150 bytes per entry of its largest bounded lists. Measured with tracemalloc, UUID item and
event ids, profiles of 5 / 50 / 500 / 2,000 events: 7.8 / 43.3 / 150.7 / 181.5 KB, estimated 18.8 /
44 / 164 / 203 KB (short ids take a fifth less). A bound by count would either hold few of the many
small profiles a busy shard writes, so most states are evicted unused (freeing them cold cost more
than the hits saved: 5,770 against 6,760 events/s without a cache, for 10,000 users), or risk the
function's memory with grown ones.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from pulse.domain.updater import ProfileState, ProfileUpdate
from pulse.ports import ProfileStore, StoredProfile

BASE_BYTES = 16_000
BYTES_PER_ENTRY = 150


def footprint(state: ProfileState) -> int:
    """About how many bytes of memory a decoded state takes (an upper estimate; see above)."""
    b, items = state.profile.behavior, state.profile.preferences.items
    entries = len(b.interacted) + len(b.purchased) + len(items.scores) + len(b.recent) + len(state.recent_event_ids)
    return BASE_BYTES + BYTES_PER_ENTRY * entries


class CachedProfileStore(ProfileStore):
    def __init__(
        self,
        inner: ProfileStore,
        budget: int,
        max_age: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``budget``: bytes of decoded states held at most (by ``footprint``); ``max_age``: seconds, by
        the wall clock (a frozen Lambda container's monotonic clock need not count the time it slept)."""
        self.inner = inner
        self.budget, self.max_age, self._clock = budget, max_age, clock
        self._held: OrderedDict[str, tuple[StoredProfile, float, int]] = OrderedDict()
        self._lock = threading.Lock()  # the updater applies a batch's users on threads
        self.held_bytes = 0

    def load(self, user_id: str) -> StoredProfile | None:
        with self._lock:
            held = self._take(user_id)
            fresh = held is not None and self._clock() - held[1] <= self.max_age
        if held is not None and fresh:
            return held[0]  # marked ``held``: the updater counts it as a read skipped
        return self.inner.load(user_id)

    def save(self, update: ProfileUpdate, expected_version: int | None) -> None:
        user_id = update.state.profile.user_id
        self.forget(user_id)
        self.inner.save(update, expected_version)  # a failure leaves nothing held: the next load reads
        size = footprint(update.state)
        if size > self.budget:
            return
        saved = StoredProfile(update.state, update.state.profile.version, held=True)
        with self._lock:
            self._held[user_id] = (saved, self._clock(), size)
            self.held_bytes += size
            while self.held_bytes > self.budget:
                self.held_bytes -= self._held.popitem(last=False)[1][2]  # the least recently written

    def load_many(self, user_ids: Sequence[str]) -> dict[str, StoredProfile]:
        return self.inner.load_many(user_ids)

    def erase(self, user_id: str) -> bool:
        self.forget(user_id)
        return self.inner.erase(user_id)

    def forget(self, user_id: str) -> None:
        with self._lock:
            self._take(user_id)

    def _take(self, user_id: str) -> tuple[StoredProfile, float, int] | None:
        """The user's entry, out of the cache (the caller holds the lock)."""
        held = self._held.pop(user_id, None)
        if held is not None:
            self.held_bytes -= held[2]
        return held

    def __len__(self) -> int:
        return len(self._held)


def updater_store(store: ProfileStore, cache_mb: int, max_age: float) -> ProfileStore:
    """The store the updater writes through: ``store`` behind a cache of ``cache_mb`` MiB of what it
    wrote, or ``store`` itself when that is 0 (``UPDATER_PROFILE_CACHE_MB``)."""
    budget = cache_mb << 20
    return CachedProfileStore(store, budget, max_age) if budget else store
