"""A serving copy of the catalogue's availability: which items must not be recommended now.

It starts from the catalogue's ``blocked`` index, then asks every ``CATALOG_REFRESH_SECONDS`` what
changed since its last look (minus a margin for the index's propagation and clock skew: re-reading a
change is harmless, each carries the item's state). No catalogue read happens per request beyond that.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pulse.ports import CatalogStore, TransientFailure
from pulse.recommend.artifacts import RecModel

log = logging.getLogger(__name__)
MARGIN_SECONDS = 5.0


@dataclass
class CatalogView:
    store: CatalogStore
    refresh_seconds: float = 2.0
    clock: Callable[[], float] = time.time
    blocked: set[str] = field(default_factory=set)
    generation: int = 0  # grows whenever ``blocked`` changes
    _looked_at: float | None = None
    _checked_at: float | None = None

    def refresh(self) -> None:
        now = self.clock()
        if self._checked_at is not None and now - self._checked_at < self.refresh_seconds:
            return
        self._checked_at = now
        try:
            if self._looked_at is None:
                blocked = self.store.blocked()
            else:
                blocked = set(self.blocked)
                for change in self.store.changes(self._looked_at - MARGIN_SECONDS):
                    (blocked.add if change.blocked else blocked.discard)(change.item_id)
        except TransientFailure as exc:  # keep answering with what we know; the next look catches up
            log.warning("catalogue changes unreadable: %s", exc)
            return
        self._looked_at = now
        if blocked != self.blocked:
            self.blocked, self.generation = blocked, self.generation + 1


def apply_availability(model: RecModel, trained: np.ndarray, blocked: set[str]) -> None:
    """The model's availability: as trained, minus what the live catalogue blocks now."""
    available = trained.copy()
    rows = [model.index[item] for item in blocked if item in model.index]
    available[rows] = False
    model.available = available
