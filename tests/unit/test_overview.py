"""The overview service: the updater's minutes as counted, totals of the recent ones, and "unknown"
(null) for what cannot be read now rather than an error or a zero."""

from typing import Any

from pulse.domain.activity import THROUGHPUT_ROW, minute_buckets
from pulse.ports import TransientFailure
from pulse.services.overview import MINUTES, RECENT, overview
from tests.fakes import MemoryActivity
from tests.fakes_experiments import MemoryExperimentStore
from tests.unit.test_experiments import put, spec

NOW = 1_800_000_000.0


class Health:
    def users(self) -> int | None:
        return 7

    def dead_letters_waiting(self) -> int | None:
        return None  # e.g. no permission

    def alarms_firing(self) -> list[dict[str, Any]] | None:
        return []


class BrokenActivity(MemoryActivity):
    def counts(self, buckets: Any, row: str) -> dict[str, dict[str, int]]:
        raise TransientFailure("throttled")


class BrokenExperiments(MemoryExperimentStore):
    def definitions(self) -> Any:
        raise TransientFailure("throttled")


def test_minutes_are_read_as_counted_and_the_recent_ones_summed() -> None:
    activity, experiments = MemoryActivity(), MemoryExperimentStore()
    buckets = minute_buckets(NOW, MINUTES)
    activity.add_counts(buckets[-1], THROUGHPUT_ROW, {"events": 5, "profiles": 2}, 0)
    activity.add_counts(buckets[-1], THROUGHPUT_ROW, {"events": 1, "dead_letters": 1}, 0)
    activity.add_counts(buckets[0], THROUGHPUT_ROW, {"events": 100}, 0)  # outside the recent minutes
    put(experiments, "ab", spec())
    answer = overview(activity, Health(), experiments, "v1", NOW)
    assert len(answer["minutes"]) == MINUTES and answer["minutes"][-1]["at"] == int(NOW // 60) * 60
    assert answer["minutes"][-1] | {"at": 0} == {"at": 0, "events": 6, "profiles": 2, "dead_letters": 1}
    assert sum(m["events"] for m in answer["minutes"]) == 106 and RECENT < MINUTES
    assert answer["recent"] == {"events": 6, "profiles": 2, "dead_letters": 1}
    assert (answer["users"], answer["dead_letters_waiting"], answer["alarms"]) == (7, None, [])
    assert answer["experiments_running"] == ["ab"] and answer["model_version"] == "v1"


def test_what_cannot_be_read_is_unknown_not_zero() -> None:
    answer = overview(BrokenActivity(), Health(), BrokenExperiments(), None, NOW)
    assert answer["recent"] is None and answer["minutes"] == [] and answer["experiments_running"] is None
