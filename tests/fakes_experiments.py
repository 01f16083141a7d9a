"""An in-memory experiment store: definitions, exposure counters and the outcome counters the
profile store fake collects (``MemoryProfileStore.outcomes``)."""

from typing import Any

from pulse.domain.experiment_results import Totals
from pulse.domain.experiments import Experiment
from pulse.ports import ExperimentStore, StoreConflict
from tests.fakes import MemoryProfileStore


class MemoryExperimentStore(ExperimentStore):
    def __init__(self, profiles: MemoryProfileStore | None = None) -> None:
        self.stored: dict[str, Experiment] = {}
        self.exposed: dict[tuple[str, str], int] = {}  # (experiment, user) -> exposures
        self.counters: dict[tuple[str, str, str], dict[str, float]] = {}  # (experiment, variant, day)
        self.profiles = profiles
        self.reads = 0

    def definitions(self) -> list[Experiment]:
        self.reads += 1
        return [e.model_copy(deep=True) for e in self.stored.values()]

    def get(self, experiment_id: str) -> Experiment | None:
        found = self.stored.get(experiment_id)
        return found.model_copy(deep=True) if found else None

    def put(self, experiment: Experiment, expected_version: int | None) -> None:
        current = self.stored.get(experiment.experiment_id)
        if (current.version if current else None) != expected_version:
            raise StoreConflict(experiment.experiment_id)
        self.stored[experiment.experiment_id] = experiment.model_copy(deep=True)

    def expose(self, experiment_id: str, variant: str, user_id: str, day: str, counted_before: bool = False) -> bool:
        first = False
        if not counted_before:
            n = self.exposed[(experiment_id, user_id)] = self.exposed.get((experiment_id, user_id), 0) + 1
            first = n == 1
        into = self.counters.setdefault((experiment_id, variant, day), {})
        into["exposures"] = into.get("exposures", 0) + 1
        into["users"] = into.get("users", 0) + int(first)
        return first

    def forget_user(self, user_id: str) -> None:
        for key in [k for k in self.exposed if k[1] == user_id]:
            del self.exposed[key]

    def totals(self, experiment_id: str) -> dict[str, Totals]:
        out: dict[str, Totals] = {}
        sources = [self.counters] + ([self.profiles.outcomes] if self.profiles else [])
        for source in sources:
            for (experiment, variant, _), counters in source.items():
                if experiment == experiment_id:
                    out.setdefault(variant, Totals()).add(counters)
        return out


class MemoryOutbox:
    """The outbox the profile store fake writes (``MemoryProfileStore.outbox``)."""

    def __init__(self, profiles: MemoryProfileStore) -> None:
        self.profiles = profiles

    def pending(self, written_before: float, limit: int) -> list[Any]:
        return [p for p in self.profiles.outbox.values() if p.written_at <= written_before][:limit]

    def remove(self, done: Any) -> None:
        for p in done:
            self.profiles.outbox.pop(p.notice.notice_id, None)


class FakeBus:
    """Records what was published; refuses (as throttled) while ``throttled`` calls remain."""

    def __init__(self, throttled: int = 0, malformed: set[str] | None = None) -> None:
        self.published: list[Any] = []
        self.throttled = throttled
        self.malformed = malformed or set()

    def publish(self, notices: Any) -> list[tuple[Any, str, bool]]:
        if self.throttled:
            self.throttled -= 1
            return [(n, "ThrottlingException: slow down", True) for n in notices]
        refused = [(n, "MalformedDetail: no", False) for n in notices if n.detail.get("segment") in self.malformed]
        self.published += [n for n in notices if n.detail.get("segment") not in self.malformed]
        return refused
