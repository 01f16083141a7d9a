"""Use cases behind the experiment routes, and what serving and the updater need of experiments.

- The API assigns each request's user (``Experiments.assign``): the oldest running experiment whose
  segment the user is in (or that has none) takes the answer; users outside every experiment get the
  default answer and are not counted. One answer belongs to at most one experiment.
- Exposures are counted as the answer is given (``Experiments.expose``): one counter write, plus one
  marker write the first time this container sees the user in the experiment.
- The updater attributes outcomes through ``Experiments.attribution``, which verifies the
  recommendation id against the experiment's salt.
"""

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pulse.domain.experiment_results import summarise
from pulse.domain.experiments import Experiment, ExperimentSpec, Variant, day_of, experiment_of
from pulse.errors import Conflict, InvalidRequest, UnknownExperiment
from pulse.ports import ExperimentStore, StoreConflict

log = logging.getLogger(__name__)
COUNTED_CACHE = 100_000  # (experiment, user) pairs a container remembers as counted
UNKNOWN_RETRY_SECONDS = 1.0  # an id of an experiment not seen yet re-reads the definitions at most this often


@dataclass
class Experiments:
    """The definitions as a serving copy sees them, refreshed every ``refresh_seconds``."""

    store: ExperimentStore
    refresh_seconds: float = 10.0
    clock: Callable[[], float] = time.monotonic
    _all: dict[str, Experiment] = field(default_factory=dict)
    _checked_at: float | None = None
    _counted: OrderedDict[tuple[str, str], None] = field(default_factory=OrderedDict)
    _counted_lock: threading.Lock = field(default_factory=threading.Lock)
    _writer: ThreadPoolExecutor | None = None

    def all(self, force: bool = False) -> dict[str, Experiment]:
        now = self.clock()
        if force or self._checked_at is None or now - self._checked_at >= self.refresh_seconds:
            self._all = {e.experiment_id: e for e in self.store.definitions()}
            self._checked_at = now
        return self._all

    def forget(self) -> None:
        """Read the definitions again on next use (this container just changed one)."""
        self._checked_at = None

    def running(self) -> list[Experiment]:
        found = [e for e in self.all().values() if e.status == "running"]
        return sorted(found, key=lambda e: (e.started_at or e.created_at, e.experiment_id))

    def assign(self, user_id: str, segments: Iterable[str]) -> tuple[Experiment, Variant] | None:
        """The experiment and variant that answer this user; None (the default answer, not counted)
        when none does, or when the definitions cannot be read now (an answer matters more)."""
        member = set(segments)
        try:
            running = self.running()
        except Exception as exc:  # noqa: BLE001  # DynamoDB unreachable: answer, without an experiment
            log.warning("experiment definitions unreadable, answering without: %s", exc)
            return None
        for experiment in running:
            if experiment.segment is None or experiment.segment in member:
                return experiment, experiment.assign(user_id)
        return None

    def expose(self, experiment: Experiment, variant: str, user_id: str, now: float) -> bool:
        """Count the answer as an exposure; False if the counter could not be written (the answer is
        still given: a lost exposure is logged and counted as a metric by the caller)."""
        key = (experiment.experiment_id, user_id)
        with self._counted_lock:
            counted = key in self._counted
        try:
            self.store.expose(experiment.experiment_id, variant, user_id, day_of(now), counted_before=counted)
        except Exception as exc:  # noqa: BLE001  # an answer is worth more than its count
            log.warning("exposure of %s not counted: %s", experiment.experiment_id, exc)
            return False
        with self._counted_lock:  # exposures are written on several threads (start_exposure)
            self._counted[key] = None
            self._counted.move_to_end(key)
            while len(self._counted) > COUNTED_CACHE:
                self._counted.popitem(last=False)
        return True

    def start_exposure(self, experiment: Experiment, variant: str, user_id: str, now: float) -> "Future[bool]":
        """``expose`` on a thread, so its write overlaps the page's scoring; the caller waits for it
        before answering (an exposure is never left in flight when the function freezes)."""
        if self._writer is None:
            self._writer = ThreadPoolExecutor(4, thread_name_prefix="exposure")
        return self._writer.submit(self.expose, experiment, variant, user_id, now)

    def attribution(self, recommendation_id: str) -> tuple[str, str] | None:
        """(experiment, variant) of a recommendation id an experiment issued; None otherwise."""
        experiment_id = experiment_of(recommendation_id)
        if experiment_id is None:
            return None
        found = self.all().get(experiment_id)
        if found is None and self._checked_at is not None and self.clock() - self._checked_at >= UNKNOWN_RETRY_SECONDS:
            found = self.all(force=True).get(experiment_id)  # created since the last read
        variant = found.issued(recommendation_id) if found is not None else None
        return None if variant is None else (experiment_id, variant)


@dataclass(frozen=True)
class Limits:
    max_running: int
    model_versions: int  # held besides the served one


def put_experiment(
    store: ExperimentStore,
    experiment_id: str,
    spec: ExperimentSpec,
    now: float,
    limits: Limits,
    version_exists: Callable[[str], bool],
    served_version: str | None,
) -> tuple[Experiment, bool]:
    """Create or change an experiment; (stored, created). Once started, only its description and
    status may change: new variants would move users between them."""
    existing = store.get(experiment_id)
    for version in sorted(spec.model_versions()):
        if not version_exists(version):
            raise InvalidRequest(f"model version {version} is not published in the model bucket")
    if existing is not None and existing.started_at is not None:
        fixed = ("variants", "control", "segment")
        changed = [name for name in fixed if getattr(existing, name) != getattr(spec, name)]
        if changed:
            raise Conflict(
                f"experiment {experiment_id} has started: its {', '.join(changed)} cannot change "
                "(that would move users between variants); create a new experiment instead"
            )
    if spec.status == "running":
        others = [e for e in store.definitions() if e.status == "running" and e.experiment_id != experiment_id]
        if len(others) >= limits.max_running:
            raise InvalidRequest(f"at most {limits.max_running} experiments may run at once; stop one first")
        held = set().union(*(e.model_versions() for e in others), spec.model_versions()) - {served_version}
        if len(held) > limits.model_versions:
            raise InvalidRequest(
                f"running experiments would serve {len(held)} model versions besides the promoted one "
                f"({', '.join(sorted(held))}); this API holds at most {limits.model_versions}"
            )
    fields: dict[str, Any] = spec.model_dump()
    if existing is None:
        experiment = Experiment(experiment_id=experiment_id, created_at=now, updated_at=now, **fields)
    else:
        experiment = Experiment.model_validate(
            existing.model_dump() | fields | {"version": existing.version + 1, "updated_at": now}
        )
    if experiment.status == "running" and experiment.started_at is None:
        experiment.started_at = now
    if experiment.status == "stopped" and (existing is None or existing.status == "running"):
        experiment.stopped_at = now if experiment.started_at is not None else None
    if experiment.status == "running":
        experiment.stopped_at = None
    _store(store, experiment, None if existing is None else existing.version)
    return experiment, existing is None


def get_experiment(store: ExperimentStore, experiment_id: str) -> Experiment:
    found = store.get(experiment_id)
    if found is None:
        raise UnknownExperiment(f"no experiment {experiment_id}")
    return found


def stop_experiment(store: ExperimentStore, experiment_id: str, now: float) -> Experiment:
    found = get_experiment(store, experiment_id)
    if found.status == "stopped":
        return found
    return _changed(store, found, {"status": "stopped", "stopped_at": now}, now)


def _changed(store: ExperimentStore, found: Experiment, changes: dict[str, Any], now: float) -> Experiment:
    """``found`` with ``changes``, stored as its next version (409 if another change came first)."""
    changed = found.model_copy(update=changes | {"version": found.version + 1, "updated_at": now})
    _store(store, changed, found.version)
    return changed


def _store(store: ExperimentStore, experiment: Experiment, expected_version: int | None) -> None:
    try:
        store.put(experiment, expected_version)
    except StoreConflict as exc:  # another change came first: 409, read it again
        raise Conflict(str(exc)) from exc


def results(store: ExperimentStore, experiment_id: str) -> dict[str, Any]:
    experiment = get_experiment(store, experiment_id)
    variants = [(v.name, v.weight) for v in experiment.variants]
    body = summarise(experiment_id, experiment.control_name, variants, store.totals(experiment_id))
    return body | {"status": experiment.status, "started_at": experiment.started_at, "promoted": experiment.promoted}


def promote_winner(
    store: ExperimentStore,
    experiment_id: str,
    variant: str,
    now: float,
    promote: Callable[[str, dict[str, Any]], dict[str, Any]],
    served_version: str | None,
) -> Experiment:
    """Serve the variant's model version to everyone (it served the variant, so it loads), stop the
    experiment, and record the decision with the figures it was taken on."""
    experiment = get_experiment(store, experiment_id)
    chosen = next((v for v in experiment.variants if v.name == variant), None)
    if chosen is None:
        raise InvalidRequest(f"experiment {experiment_id} has no variant {variant}")
    figures = results(store, experiment_id)
    version = chosen.serve.model_version if chosen.serve.strategy == "model" else None
    if chosen.serve.strategy == "default":
        version = served_version  # the winner is what everyone gets already
    elif version is None:
        raise InvalidRequest(
            f"variant {variant} serves {chosen.serve.strategy}, not a model version: nothing to promote"
        )
    if version is not None and version != served_version:
        promote(version, {"promoted_by": f"experiment {experiment_id}", "variant": variant})
    record = {
        "variant": variant,
        "model_version": version,
        "at": now,
        "summary": figures["summary"],
        "variants": figures["variants"],
        "lifts": figures["lifts"],
    }
    stopped_at = now if experiment.status == "running" else experiment.stopped_at
    return _changed(store, experiment, {"promoted": record, "status": "stopped", "stopped_at": stopped_at}, now)
