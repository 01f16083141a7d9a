"""Freezing the heap happens in a Lambda container, once its dependencies are built, and nowhere else."""

import gc

import pytest

from pulse import heap
from pulse.wiring import Provider


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
