"""The retraining run's pure parts: its deadline, the live catalogue as training reads it, its summary."""

import time
from collections.abc import Callable

import pytest

from pulse.domain.catalog import CatalogItem
from pulse.ports import CatalogChange
from scripts.cli.models import describe_run
from training.archive_window import _hour_of
from training.deadline import Deadline, RunOutOfTime
from training.retrain import RetrainRequest, catalogue_of


def _wait_for(done: Callable[[], bool], seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while not done() and time.monotonic() < end:
        time.sleep(0.01)
    return done()


def test_a_spent_budget_is_told_once_while_the_run_is_busy_and_stops_it_at_its_next_checkpoint() -> None:
    told: list[float] = []
    with Deadline(0.05, lambda: told.append(1)) as d:
        d.check()  # in time: passes
        assert _wait_for(lambda: bool(told))  # the watchdog spoke while this thread was still busy
        with pytest.raises(RunOutOfTime, match="before the function's timeout"):
            d.check()
    time.sleep(0.1)
    assert told == [1]


def test_a_committed_run_is_never_stopped_and_an_expired_one_cannot_commit() -> None:
    told: list[int] = []
    with Deadline(0.05, lambda: told.append(1)) as d:
        d.commit()
        time.sleep(0.15)
        d.check()
    assert told == []
    with Deadline(0.0, lambda: told.append(2)) as late:
        assert _wait_for(lambda: late.expired)
        with pytest.raises(RunOutOfTime):
            late.commit()
    with Deadline(None, lambda: told.append(3)) as never, Deadline(0.05, lambda: told.append(4)):
        never.check()  # no budget, no watchdog
    time.sleep(0.1)  # a finished run's watchdog is cancelled: nothing is told after its block
    assert told == [2]


def test_the_live_catalogue_gives_metadata_and_availability() -> None:
    shoe = CatalogItem(item_id="shoe", categories=["Shoes"], brand="Acme", price=30.0, created_at=1, updated_at=1)
    gone = CatalogItem(item_id="hat", available=False, created_at=1, updated_at=1)
    changes = [CatalogChange("shoe", False, 1.0, shoe), CatalogChange("hat", True, 1.0, gone)]
    changes.append(CatalogChange("old", True, 2.0, None))  # deleted
    catalogue = catalogue_of(changes)
    assert catalogue["shoe"] == {"category": ["Shoes"], "brand": "Acme", "price": 30.0, "available": True}
    assert catalogue["hat"] == {"available": False} and catalogue["old"] == {"available": False}


def test_an_on_demand_request_is_checked() -> None:
    assert RetrainRequest.model_validate({"window_days": 7}).window_days == 7
    for bad in ({"window_days": 0}, {"max_events": 10}, {"margin": 2}, {"force": True}):
        with pytest.raises(ValueError, match="validation error"):
            RetrainRequest.model_validate(bad)


def test_archive_keys_are_dated_by_their_hour_folder() -> None:
    assert _hour_of("events/2026/12/03/09/pulse-archive-1.gz") == 1796288400.0
    assert _hour_of("events-errors/x.gz") is None and _hour_of("events/2026/12/x.gz") is None


def test_a_run_is_summarised_with_its_window_and_gate_figures() -> None:
    text = describe_run(
        {
            "status": "refused",
            "reason": "ndcg@10 0.1 does not beat the item-knn baseline (0.2)",
            "window": {"events": 1200, "files_read": 1, "files": 2, "days": 30, "truncated": True},
            "gate": {"figures": {"candidate": 0.1, "item-knn": 0.2}},
            "version": "v2",
            "served_after": "v1",
        }
    )
    assert "refused: ndcg@10" in text and "1,200 events from 1 of 2" in text and "the ceiling" in text
    assert "candidate 0.1000, item-knn 0.2000" in text and "serving v1" in text


def test_two_runs_on_the_same_data_within_a_second_get_two_versions(monkeypatch) -> None:
    from training import publish

    files = {"ranker.json": b"{}"}
    clock = iter([1_796_300_000.120, 1_796_300_000.450])
    monkeypatch.setattr(publish.time, "time", lambda: next(clock))
    first, second = publish.new_version(files), publish.new_version(files)
    assert first != second and first.split("-")[1] == second.split("-")[1]  # same files, other times
    assert first == "20261203T121320120Z-" + first.split("-")[1] and first < second  # names sort by time
