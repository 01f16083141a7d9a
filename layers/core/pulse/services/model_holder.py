"""The served model's life cycle.

``ModelHolder`` loads the promoted version at cold start, checks the pointer at most every
``MODEL_REFRESH_SECONDS`` and swaps in a new version only after it verified and decoded completely; a
version that fails keeps the current one serving (and is counted). With ``background`` (the API), a new
version is loaded on a thread while the current one keeps answering, so no request waits for a large
model's download. Profiles are read on every request: no cache stands between the updater and the
next answer.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from pulse.errors import ModelUnavailable
from pulse.recommend.artifacts import ArtifactError, Fetched, RecModel, load_model
from pulse.recommend.scorer import Scorer
from pulse.services.catalog_view import CatalogView, apply_availability

log = logging.getLogger(__name__)


class ModelSource(Protocol):
    def pointer_version(self) -> str | None: ...

    def fetch(self, version: str) -> Fetched: ...


@dataclass
class ModelHolder:
    source: ModelSource
    refresh_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    on_failure: Callable[[str, str], None] = lambda version, reason: None
    scorer: Scorer | None = None
    checked_at: float | None = None
    failures: int = 0
    failed_versions: dict[str, str] = field(default_factory=dict)
    catalog: CatalogView | None = None  # the live catalogue's availability, applied to the served model
    background: bool = False  # new versions loaded on a thread once one serves (the first: in line)
    _loading: threading.Thread | None = None
    _trained_available: np.ndarray | None = None
    _applied: tuple[str | None, int] = (None, -1)

    @property
    def version(self) -> str | None:
        return self.scorer.model.version if self.scorer else None

    def serving(self) -> Scorer | None:
        """The scorer of the served version (None before any is promoted), the live catalogue's
        availability applied to it; the pointer and the catalogue are looked at when due."""
        now = self.clock()
        if self.checked_at is None or now - self.checked_at >= self.refresh_seconds:
            self.checked_at = now
            self.refresh()
        if self.catalog is not None:
            self.catalog.refresh()
            if self.scorer is not None:
                self._follow(self.catalog, self.scorer.model)
        return self.scorer

    def current(self) -> Scorer:
        scorer = self.serving()
        if scorer is None:
            raise ModelUnavailable("no model version has been promoted yet")
        return scorer

    def blocked(self) -> set[str]:
        """Items the live catalogue says must not be recommended now (empty without a catalogue)."""
        return self.catalog.blocked if self.catalog is not None else set()

    def _follow(self, catalog: CatalogView, model: RecModel) -> None:
        if self._applied != (model.version, catalog.generation):
            if self._trained_available is None or self._applied[0] != model.version:
                self._trained_available = model.available.copy()
            apply_availability(model, self._trained_available, catalog.blocked)
            self._applied = (model.version, catalog.generation)

    def refresh(self) -> None:
        try:
            version = self.source.pointer_version()
        except Exception as exc:  # noqa: BLE001  # whatever the source fails with, keep serving what we have
            log.warning("model pointer unreadable: %s", exc)
            return
        if version is None or version == self.version:
            return
        if not self.background or self.scorer is None:
            self._load(version)
        elif self._loading is None or not self._loading.is_alive():
            self._loading = threading.Thread(target=self._load_quietly, args=(version,), name="model-load", daemon=True)
            self._loading.start()

    def wait_for_load(self, timeout: float | None = None) -> None:
        """Until a background load in progress has finished (what tests wait on)."""
        if self._loading is not None:
            self._loading.join(timeout)

    def _load(self, version: str) -> None:
        try:
            model = load_model(version, *self.source.fetch(version))
        except ArtifactError as exc:
            self.failures += 1
            self.failed_versions[version] = str(exc)
            log.error("model %s refused, still serving %s: %s", version, self.version, exc)
            self.on_failure(version, str(exc))
            return
        self.scorer = Scorer(model)  # one assignment: a request in flight keeps the scorer it took
        log.info("now serving model %s", version)

    def _load_quietly(self, version: str) -> None:
        try:
            self._load(version)
        except Exception as exc:  # noqa: BLE001  # a thread's error would vanish: log it, retry when due
            log.warning("model %s could not be read, still serving %s: %s", version, self.version, exc)


def loaded_model(holder: ModelHolder) -> RecModel | None:
    try:
        return holder.current().model
    except ModelUnavailable:
        return None


@dataclass
class HeldVersions:
    """Model versions an experiment's variants serve, besides the promoted one: loaded on their first
    request (verified like the promoted one), at most ``limit`` held, the least recently used let go.
    The live catalogue's availability is applied to each as to the promoted model."""

    source: ModelSource
    limit: int
    catalog: CatalogView | None = None
    _held: dict[str, tuple[Scorer, np.ndarray]] = field(default_factory=dict)
    _applied: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def scorer(self, version: str) -> Scorer:
        """The version's scorer; ``ModelUnavailable`` if it cannot be loaded or none may be held."""
        with self._lock:
            found = self._held.pop(version, None)
            if found is None:
                if self.limit <= 0:
                    raise ModelUnavailable(f"model version {version}: this API holds no versions for experiments")
                try:
                    model = load_model(version, *self.source.fetch(version))
                except ArtifactError as exc:
                    raise ModelUnavailable(f"model version {version} cannot be served: {exc}") from exc
                found = (Scorer(model), model.available.copy())
            self._held[version] = found  # the most recently used last
            while len(self._held) > self.limit:
                gone = next(iter(self._held))
                del self._held[gone]
                self._applied.pop(gone, None)
            scorer, trained = found
            if self.catalog is not None and self._applied.get(version) != self.catalog.generation:
                apply_availability(scorer.model, trained, self.catalog.blocked)
                self._applied[version] = self.catalog.generation
            return scorer

    @property
    def versions(self) -> list[str]:
        return list(self._held)
