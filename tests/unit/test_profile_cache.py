"""The updater's cache of the profiles it wrote: reads skipped, never a write on a stale version."""

from __future__ import annotations

import json

import pytest

from pulse.domain.updater import ProfileUpdate
from pulse.ports import StoreConflict, TransientFailure
from pulse.services import profiles
from pulse.services.ingest import BatchOutcome, StreamRecord, process_batch
from pulse.services.profile_cache import CachedProfileStore, footprint
from tests.fakes import MemoryDeadLetters, MemoryProfileStore

T0 = 1_700_000_000.0


def deliver(store: object, user: str, n: int, kind: str = "view") -> BatchOutcome:
    body = {"event_id": f"{user}-{n}", "event_type": kind, "user_id": user, "timestamp": T0 + n, "item_id": f"i{n}"}
    raw = json.dumps(body).encode()
    outcome = process_batch([StreamRecord("s-0", str(n), raw)], store, MemoryDeadLetters(), 14, now=T0 + n)  # type: ignore[arg-type]
    assert not outcome.failed
    return outcome


def cached(inner: MemoryProfileStore, budget: int = 1 << 20, clock: list[float] | None = None) -> CachedProfileStore:
    ticks = clock if clock is not None else [0.0]
    return CachedProfileStore(inner, budget=budget, max_age=300.0, clock=lambda: ticks[0])


def test_a_user_written_here_is_not_read_again() -> None:
    inner = MemoryProfileStore()
    store = cached(inner)
    skipped = [deliver(store, "ann", n).reads_skipped for n in range(1, 6)]
    assert skipped == [0, 1, 1, 1, 1]  # what the updater publishes as ProfileReadsSkipped
    assert inner.reads == 1 and inner.writes == 5  # only the first batch read the (missing) profile
    assert profiles.get_profile(inner, "ann").behavior.counts == {"view": 5}


def test_a_write_made_elsewhere_is_found_by_the_version_check_and_nothing_is_lost() -> None:
    inner = MemoryProfileStore()
    store, other = cached(inner), cached(inner)  # two updater containers on one table
    assert deliver(store, "ann", 1).reads_skipped == 0
    deliver(other, "ann", 2)  # the profile moved on behind the first container's back
    third = deliver(store, "ann", 3)  # its held version is stale: the write fails, it reads and applies again
    assert (third.reads_skipped, third.conflicts, third.writes) == (1, 1, 1)
    assert inner.reads == 3  # each container's first read, and this one's read after the conflict
    assert profiles.get_profile(inner, "ann").behavior.counts == {"view": 3}


def test_an_erasure_elsewhere_is_not_undone_by_a_held_profile() -> None:
    inner = MemoryProfileStore(tombstone_seconds=0.0, clock=lambda: T0 + 1.5)  # may come back at once
    store = cached(inner)
    deliver(store, "ann", 1, "purchase")
    assert inner.erase("ann")  # the API erases her; the updater still holds her old profile
    other = cached(inner)
    deliver(other, "ann", 2)  # she comes back through another container: written once, as before
    deliver(store, "ann", 3)  # the held version must not match the new profile's
    profile = profiles.get_profile(inner, "ann")
    assert profile.behavior.counts == {"view": 2}  # the purchase erased before stays erased
    assert profile.version == 2 + 2  # versions went on from the tombstone's, never repeated


def test_a_failed_write_leaves_nothing_held() -> None:
    inner = MemoryProfileStore()
    store = cached(inner)
    deliver(store, "ann", 1)
    real_save = inner.save

    def failing(update: object, expected_version: int | None) -> None:
        raise TransientFailure("throttled")

    inner.save = failing  # type: ignore[method-assign]
    body = {"event_id": "ann-2", "event_type": "view", "user_id": "ann", "timestamp": T0 + 2, "item_id": "i2"}
    outcome = process_batch(
        [StreamRecord("s-0", "2", json.dumps(body).encode())], store, MemoryDeadLetters(), 14, now=T0 + 2
    )
    assert outcome.failed == {"2"} and len(store) == 0  # the state applied in place was not kept
    inner.save = real_save  # type: ignore[method-assign]
    deliver(store, "ann", 2)  # Lambda re-delivers it: read again, applied once
    assert profiles.get_profile(inner, "ann").behavior.counts == {"view": 2}


def test_a_conflict_drops_the_entry() -> None:
    inner = MemoryProfileStore()
    store = cached(inner)
    deliver(store, "ann", 1)
    held = store.load("ann")
    assert held is not None and len(store) == 0  # taken out: the caller applies it in place
    with pytest.raises(StoreConflict):
        store.save(ProfileUpdate(held.state), expected_version=held.version + 7)
    assert len(store) == 0


def footprint_of_one_event() -> int:
    inner = MemoryProfileStore()
    deliver(inner, "zed", 1)
    stored = inner.load("zed")
    assert stored is not None
    return footprint(stored.state)


def test_a_profiles_footprint_grows_with_its_lists() -> None:
    inner = MemoryProfileStore()
    for n in range(1, 4):
        deliver(inner, "ann", n)
    stored = inner.load("ann")
    assert stored is not None
    assert footprint(stored.state) == footprint_of_one_event() + 2 * 4 * 150  # interacted, items, recent, ids


def test_only_the_latest_written_are_held_within_the_budget() -> None:
    inner = MemoryProfileStore()
    one = footprint_of_one_event()
    store = cached(inner, budget=2 * one + 700)
    for n, user in enumerate(["ann", "bob", "cy"], start=1):
        deliver(store, user, n)
    assert len(store) == 2 and store.held_bytes == 2 * one  # ann, the least recently written, went
    reads = inner.reads
    deliver(store, "cy", 4)
    assert inner.reads == reads and store.held_bytes == 2 * one + 4 * 150  # cy grew: still within it
    deliver(store, "ann", 5)
    assert inner.reads == reads + 1 and len(store) == 1  # ann read again; bob then cy went for her


def test_an_old_entry_is_read_again() -> None:
    inner = MemoryProfileStore()
    clock = [0.0]
    store = cached(inner, clock=clock)
    deliver(store, "cy", 1)
    clock[0] += 301.0
    assert deliver(store, "cy", 2).reads_skipped == 0  # held, but too old to be trusted
    assert inner.reads == 2
    assert profiles.get_profile(inner, "cy").behavior.counts == {"view": 2}


def test_no_budget_means_no_cache() -> None:
    inner = MemoryProfileStore()
    store = cached(inner, budget=0)
    deliver(store, "ann", 1)
    deliver(store, "ann", 2)
    assert inner.reads == 2 and len(store) == 0


def test_erasing_through_the_cache_forgets_the_user() -> None:
    inner = MemoryProfileStore()
    store = cached(inner)
    deliver(store, "ann", 1)
    assert store.erase("ann") and len(store) == 0
