"""Candidates and their features, computed over the items a request touches (numpy only).

The cost follows the profile, not the catalogue: the neighbour rows of the profile's items are
gathered, the candidates are those rows' targets plus the popular, trending and segment lists, and
every feature is evaluated at the candidates alone. One scratch array as long as the catalogue is
allocated once per model (a slot per item, -1 when not in the request) and reset after each use, so a
request allocates nothing catalogue-sized. Sums are accumulated in float32 with ``np.add.at``, in the
same order as the dense reference (``pulse.recommend.dense``), so features and scores are identical to
it bit for bit; a test compares pages on seeded users.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from pulse.recommend.compact import Categories, ItemLists

Rows = Sequence[tuple[int, float]]


@dataclass(frozen=True)
class Spread:
    """The contributions of some rows' lists: targets and weights, in row order (as the dense
    reference adds them). Padding keeps target -1, which every slot lookup maps to "not here"."""

    targets: np.ndarray  # int32, -1 for padding
    weights: np.ndarray  # float32

    @classmethod
    def of(cls, lists: ItemLists, rows: Rows) -> Spread:
        if not rows:
            return cls(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))
        r = np.fromiter((p[0] for p in rows), dtype=np.int64, count=len(rows))
        weights = np.fromiter((p[1] for p in rows), dtype=np.float32, count=len(rows))
        return cls(*lists.spread(r, weights))

    @classmethod
    def uniform(cls, lists: ItemLists, rows: np.ndarray, weight: float) -> Spread:
        """Rows of one weight (the history): built from arrays, no per-row Python objects."""
        return cls(*lists.spread(rows, np.full(rows.size, weight, dtype=np.float32)))


class Slots:
    """A reusable map from item index to its position in the current request's item list."""

    def __init__(self, n: int) -> None:
        # 4 bytes an item (a 1M-item catalogue's fit L3), and one more: the slot of target -1 (padding),
        # -1 always, as no real item is ever assigned to it
        self.slot = np.full(n + 1, -1, dtype=np.int32)
        self._lock = threading.Lock()

    @contextmanager
    def distinct(self, items: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Within the block: the distinct ``items`` (in no particular order, padding left out) and the
        slots, where ``slot[item]`` is the item's position among them, else -1. Of an item's
        occurrences exactly one wins the write of its position: no sort, no catalogue-long pass."""
        with self._lock:
            order = np.arange(items.size, dtype=np.int32)
            self.slot[items] = order
            unique = items[self.slot[items] == order]
            self.slot[-1] = -1  # padding's slot, if it won a write
            unique = unique[unique >= 0]
            self.slot[unique] = np.arange(unique.size, dtype=np.int32)
            try:
                yield unique, self.slot
            finally:
                self.slot[items] = -1

    def member(self, items: np.ndarray, of: np.ndarray) -> np.ndarray:
        """Per item of ``items``, whether it is one of ``of`` (``np.isin`` without sorting either)."""
        with self._lock:
            self.slot[of] = 0
            inside: np.ndarray = self.slot[items] == 0
            self.slot[of] = -1
        return inside


def sum_at(slot: np.ndarray, size: int, spread: Spread) -> np.ndarray:
    """Per position, the spread's contributions to that item (float32, in the dense order). What
    reaches no position (slot -1) is added to a spare first bin, which beats compacting it away."""
    out = np.zeros(size + 1, dtype=np.float32)
    pos = slot[spread.targets]
    pos += 1
    np.add.at(out, pos, spread.weights)
    return out[1:]


def largest(values: np.ndarray) -> float:
    """The largest sum (0 when nothing was reached); the ``_rel`` features divide by
    ``max(1e-9, largest)``, so the zeros of unreached items never change the scale."""
    return float(values.max()) if values.size else 0.0


class ItemCategories:
    """Each item's category codes (the model's CSR), with the one-category case read by one gather."""

    def __init__(self, categories: Categories) -> None:
        self.names, self.start, self.ids = categories.names, categories.ptr, categories.codes
        self.code = {c: k for k, c in enumerate(self.names)}
        counts = categories.sizes
        # the usual case, one category: its code (len(names) for none), read with one gather
        self.only = np.full(counts.size, len(self.names), dtype=np.int64)
        self.only[counts == 1] = self.ids[self.start[:-1][counts == 1]]
        self.multi = counts > 1
        self.any_multi = bool(self.multi.any())

    def affinity(self, items: np.ndarray, categories: dict[str, float]) -> np.ndarray:
        """Per item, the sum of ``score / total`` over its categories the user likes, added in the
        user's category order (float32), as the dense reference adds them."""
        if not categories or items.size == 0:
            return np.zeros(items.size, dtype=np.float32)
        total = sum(categories.values())
        rank = np.full(len(self.names), -1, dtype=np.int64)
        value = np.zeros(len(self.names), dtype=np.float64)
        for r, (cat, score) in enumerate(categories.items()):
            k = self.code.get(cat)
            if k is not None:
                rank[k], value[k] = r, score / total
        single = np.append(value.astype(np.float32), np.float32(0.0))  # and the slot of "no category"
        if not self.any_multi:  # one category an item at most: one gather (0 + v == v, as the dense sum)
            only: np.ndarray = single[self.only[items]]
            return only
        out = np.zeros(items.size, dtype=np.float32)
        multi = self.multi[items]
        plain = ~multi
        out[plain] = single[self.only[items[plain]]]
        if multi.any():
            out[multi] = self._several(items[multi], rank, value)
        return out

    def _several(self, items: np.ndarray, rank: np.ndarray, value: np.ndarray) -> np.ndarray:
        """Items of two or more categories: added in the user's category order, item by item."""
        out = np.zeros(items.size, dtype=np.float32)
        lengths = self.start[items + 1] - self.start[items]
        owner = np.repeat(np.arange(items.size), lengths)
        first = np.repeat(self.start[items], lengths)
        ids = self.ids[first + (np.arange(owner.size) - np.repeat(np.cumsum(lengths) - lengths, lengths))]
        liked = rank[ids] >= 0
        owner, ids = owner[liked], ids[liked]
        order = np.argsort(rank[ids], kind="stable")  # in the user's category order, item by item
        np.add.at(out, owner[order], value[ids[order]].astype(np.float32))
        return out


class SourceRows:
    """The recent items' rows of one list (neighbours or transitions), gathered once for all the
    explanations of a page, recency included."""

    def __init__(self, lists: ItemLists, recent: list[int], decay: float) -> None:
        self.sources = np.asarray(recent, dtype=np.int64)
        self.targets, w, self.owner = lists.gather(self.sources)
        self.weight = w.astype(np.float64) * (decay ** np.arange(self.sources.size))[self.owner]

    def strongest(self, item: int) -> int | None:
        """Of the recent items (most recent first), the one whose list gives ``item`` the largest
        weight, recency included (the earliest on a tie); None when none lists it."""
        hits = np.flatnonzero(self.targets == item)[::-1]  # reversed: a row's first entry is written last
        if not hits.size:
            return None
        weight = np.zeros(self.sources.size)
        weight[self.owner[hits]] = self.weight[hits]
        best = int(weight.argmax())
        return int(self.sources[best]) if weight[best] > 0 else None


def top_k(values: np.ndarray, k: int) -> np.ndarray:
    """``np.argsort(-values, kind="stable")[:k]`` without sorting the catalogue: the k-th value by
    partition, then only the items at or above it sorted (ties in index order, as the stable sort)."""
    if values.size <= k:
        order: np.ndarray = np.argsort(-values, kind="stable")
        return order
    threshold = np.partition(values, values.size - k)[values.size - k]
    above = np.flatnonzero(values >= threshold)
    top: np.ndarray = above[np.argsort(-values[above], kind="stable")][:k]
    return top


def top_positions(cand: np.ndarray, scores: np.ndarray, positions: np.ndarray, limit: int) -> tuple[np.ndarray, bool]:
    """The ``limit`` best positions (at least; every tie at the boundary kept) in page order: score
    descending, then item index ascending; and whether that is every position. Selecting before
    sorting makes the order cost follow the page, not the candidates."""
    total, values = positions.size, scores[positions]
    if total > limit:
        threshold = np.partition(values, total - limit)[total - limit]
        positions = positions[values >= threshold]
    order = positions[np.lexsort((cand[positions], -scores[positions]))]
    return order, order.size == total
