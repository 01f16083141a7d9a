"""A serving copy of the catalogue: which items must not be recommended now, and the items themselves.

It starts from the catalogue's ``blocked`` index and its ``MAX_LIVE_ITEMS`` most recently written
items, then asks every ``CATALOG_REFRESH_SECONDS`` what changed since its last look (minus a margin
for the index's propagation and clock skew: re-reading a change is harmless, each carries the item's
state). No catalogue read happens per request beyond that. The items let serving answer for items
no model knows yet (scored by content, ``pulse.recommend.content``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pulse.domain.catalog import CatalogItem
from pulse.ports import CatalogChange, CatalogStore, TransientFailure
from pulse.recommend.artifacts import RecModel
from pulse.recommend.content import LiveItems

log = logging.getLogger(__name__)
MARGIN_SECONDS = 5.0
MAX_LIVE_ITEMS = 20_000  # items a serving copy holds (the most recently written; about 2 KB each)


@dataclass
class CatalogView:
    store: CatalogStore
    refresh_seconds: float = 2.0
    clock: Callable[[], float] = time.time
    max_items: int = MAX_LIVE_ITEMS
    blocked: set[str] = field(default_factory=set)
    items: dict[str, CatalogItem] = field(default_factory=dict)  # recommendable items, by id
    generation: int = 0  # grows whenever ``blocked`` or ``items`` change
    _looked_at: float | None = None
    _checked_at: float | None = None
    _written: dict[str, float] = field(default_factory=dict)  # when each held item was written
    _unknown: tuple[tuple[int, str | None], LiveItems] | None = None

    def refresh(self) -> None:
        now = self.clock()
        if self._checked_at is not None and now - self._checked_at < self.refresh_seconds:
            return
        self._checked_at = now
        try:
            if self._looked_at is None:
                blocked, changes = self.store.blocked(), self.store.latest(self.max_items)
            else:
                blocked, changes = set(self.blocked), self.store.changes(self._looked_at - MARGIN_SECONDS)
        except TransientFailure as exc:  # keep answering with what we know; the next look catches up
            log.warning("catalogue changes unreadable: %s", exc)
            return
        self._looked_at = now
        changed = self._take(changes, blocked)
        if blocked != self.blocked or changed:
            self.blocked, self.generation = blocked, self.generation + 1

    def _take(self, changes: list[CatalogChange], blocked: set[str]) -> bool:
        changed = False
        for change in changes:
            if change.blocked:
                blocked.add(change.item_id)
            else:
                blocked.discard(change.item_id)
            if self._written.get(change.item_id, -1.0) > change.changed_at:
                continue  # a margin's re-read of an older write
            if change.blocked or change.item is None:
                changed |= self.items.pop(change.item_id, None) is not None
                self._written.pop(change.item_id, None)
            elif self.items.get(change.item_id) != change.item:
                self.items[change.item_id], self._written[change.item_id] = change.item, change.changed_at
                changed = True
        if len(self.items) > self.max_items:  # the oldest writes go first
            for item_id in sorted(self._written, key=self._written.__getitem__)[: len(self.items) - self.max_items]:
                self.items.pop(item_id, None)
                self._written.pop(item_id, None)
        return changed

    def unknown_to(self, model: RecModel | None) -> LiveItems:
        """The held items the model does not know (all of them without a model), indexed for content
        scoring; rebuilt only when the catalogue or the model changed."""
        key = (self.generation, model.version if model else None)
        if self._unknown is None or self._unknown[0] != key:
            index = model.index if model is not None else {}
            self._unknown = (key, LiveItems.build([i for k, i in self.items.items() if k not in index]))
        return self._unknown[1]


def apply_availability(model: RecModel, trained: np.ndarray, blocked: set[str]) -> None:
    """The model's availability: as trained, minus what the live catalogue blocks now."""
    available = trained.copy()
    rows = [model.index[item] for item in blocked if item in model.index]
    available[rows] = False
    model.available = available
