"""Freezing the heap happens in a Lambda container, once its dependencies are built, and nowhere else;
the collector pauses while the updater applies a batch."""

import gc
import json
import threading

import pytest

from pulse import heap
from pulse.ports import StoredProfile
from pulse.services.ingest import StreamRecord, process_batch
from pulse.wiring import Provider
from tests.fakes import MemoryDeadLetters, MemoryProfileStore


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_outside_lambda_nothing_is_frozen(unfrozen, monkeypatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    assert Provider(lambda: {"client": object()})() and gc.get_freeze_count() == 0
    assert heap.settle() is False


def test_in_lambda_the_built_dependencies_leave_the_collectors_walk(unfrozen, monkeypatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "pulse-ProfileUpdaterFunction")
    provider: Provider[dict[str, list[list[int]]]] = Provider(lambda: {"client": [[] for _ in range(1000)]})
    assert gc.get_freeze_count() == 0
    provider()
    frozen = gc.get_freeze_count()
    assert frozen > 1000  # the whole heap, the built dependencies with it
    made_since: list[list[int]] = [[] for _ in range(500)]  # tracked objects a second freeze would take in
    provider()  # built once: settled once
    assert gc.get_freeze_count() == frozen and made_since


@pytest.fixture
def collector_on():
    gc.enable()
    yield
    gc.enable()


def test_collections_pause_inside_a_block_and_resume_after_the_last(collector_on) -> None:
    with heap.collections_paused():
        assert not gc.isenabled()
        with heap.collections_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block still runs
    assert gc.isenabled()
    with pytest.raises(RuntimeError), heap.collections_paused():
        raise RuntimeError("a failing batch")
    assert gc.isenabled()


def test_a_pause_leaves_a_disabled_collector_disabled(collector_on) -> None:
    gc.disable()
    with heap.collections_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_blocks_on_threads_resume_once_both_end(collector_on) -> None:
    first_in, second_done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with heap.collections_paused():
            first_in.set()
            second_done.wait(5)
            seen.append(gc.isenabled())

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(5)
    with heap.collections_paused():
        pass
    seen.append(gc.isenabled())  # the first block is still inside
    second_done.set()
    thread.join(5)
    assert seen == [False, False] and gc.isenabled()


def test_the_updater_applies_a_batch_with_the_collector_paused(collector_on) -> None:
    during: list[bool] = []

    class Watching(MemoryProfileStore):
        def load(self, user_id: str) -> StoredProfile | None:
            during.append(gc.isenabled())
            return super().load(user_id)

    body = {"event_id": "e1", "event_type": "view", "user_id": "u1", "timestamp": 1_717_243_200.0, "item_id": "i1"}
    record = StreamRecord("shardId-000000000000", "1", json.dumps(body).encode(), partition_key="k")
    store = Watching()
    outcome = process_batch([record], store, MemoryDeadLetters(), half_life_days=14)
    assert outcome.applied == 1 and during == [False] and gc.isenabled()
