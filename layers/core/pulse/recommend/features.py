"""Candidates and their features, computed over the items a request touches (numpy only).

The cost follows the profile, not the catalogue: the neighbour rows of the profile's items are
gathered, the candidates are those rows' targets plus the popular, trending and segment lists, and
every feature is evaluated at the candidates alone. Two scratch arrays as long as the catalogue are
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

Rows = Sequence[tuple[int, float]]


@dataclass(frozen=True)
class Spread:
    """The contributions of some rows' neighbour lists: targets and weights, in row order."""

    targets: np.ndarray  # int64
    weights: np.ndarray  # float32

    @classmethod
    def of(cls, idx: np.ndarray, w: np.ndarray, rows: Rows) -> Spread:
        if not rows:
            return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        r = np.fromiter((p[0] for p in rows), dtype=np.int64, count=len(rows))
        weights = np.fromiter((p[1] for p in rows), dtype=np.float32, count=len(rows))
        targets = idx[r]
        contrib = weights[:, None] * w[r]
        mask = targets >= 0
        return cls(targets[mask].astype(np.int64, copy=False), contrib[mask])

    @classmethod
    def uniform(cls, idx: np.ndarray, w: np.ndarray, rows: np.ndarray, weight: float) -> Spread:
        """Rows of one weight (the history): built from arrays, no per-row Python objects."""
        if rows.size == 0:
            return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        targets = idx[rows]
        contrib = np.float32(weight) * w[rows]
        mask = targets >= 0
        return cls(targets[mask].astype(np.int64, copy=False), contrib[mask])


class Slots:
    """A reusable map from item index to its position in the current request's item list."""

    def __init__(self, n: int) -> None:
        self.slot = np.full(n, -1, dtype=np.int64)
        self._lock = threading.Lock()

    @contextmanager
    def assigned(self, items: np.ndarray) -> Iterator[np.ndarray]:
        """Within the block, ``slot[item]`` is the item's position in ``items`` (unique), else -1."""
        with self._lock:
            self.slot[items] = np.arange(items.size)
            try:
                yield self.slot
            finally:
                self.slot[items] = -1

    def unique(self, items: np.ndarray) -> np.ndarray:
        """``items`` without repeats (in no particular order), without sorting or a catalogue-long
        pass: of an item's occurrences, exactly one wins the write of its position."""
        if items.size == 0:
            return items
        with self._lock:
            order = np.arange(items.size)
            self.slot[items] = order
            winners = self.slot[items] == order
            self.slot[items] = -1
        unique: np.ndarray = items[winners]
        return unique


def sum_at(slot: np.ndarray, size: int, spread: Spread) -> np.ndarray:
    """Per position, the spread's contributions to that item (float32, in the dense order)."""
    out = np.zeros(size, dtype=np.float32)
    pos = slot[spread.targets]
    keep = pos >= 0
    np.add.at(out, pos[keep], spread.weights[keep])
    return out


def largest(values: np.ndarray) -> float:
    """The largest sum (0 when nothing was reached); the ``_rel`` features divide by
    ``max(1e-9, largest)``, so the zeros of unreached items never change the scale."""
    return float(values.max()) if values.size else 0.0


class ItemCategories:
    """Each item's categories as compact arrays (CSR: ``ids[start[i]:start[i + 1]]``), built once."""

    def __init__(self, categories: list[list[str]]) -> None:
        self.names = sorted({c for cats in categories for c in cats})
        self.code = code = {c: k for k, c in enumerate(self.names)}
        counts = np.fromiter((len(c) for c in categories), dtype=np.int64, count=len(categories))
        self.start = np.concatenate([[0], np.cumsum(counts)])
        self.ids = np.fromiter((code[c] for cats in categories for c in cats), dtype=np.int64, count=int(counts.sum()))
        # the usual case, one category: its code (len(names) for none), read with one gather
        self.only = np.full(counts.size, len(self.names), dtype=np.int64)
        self.only[counts == 1] = self.ids[self.start[:-1][counts == 1]]
        self.multi = counts > 1

    def affinity(self, items: np.ndarray, categories: dict[str, float]) -> np.ndarray:
        """Per item, the sum of ``score / total`` over its categories the user likes, added in the
        user's category order (float32), as the dense reference adds them."""
        out = np.zeros(items.size, dtype=np.float32)
        if not categories or items.size == 0:
            return out
        total = sum(categories.values())
        rank = np.full(len(self.names), -1, dtype=np.int64)
        value = np.zeros(len(self.names), dtype=np.float64)
        for r, (cat, score) in enumerate(categories.items()):
            k = self.code.get(cat)
            if k is not None:
                rank[k], value[k] = r, score / total
        single = np.append(value.astype(np.float32), np.float32(0.0))  # and the slot of "no category"
        multi = self.multi[items]
        plain = ~multi
        out[plain] = single[self.only[items[plain]]]  # 0 + v == v: as the dense sum
        if not multi.any():
            return out
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


def strongest_source(idx: np.ndarray, w: np.ndarray, recent: list[int], item: int, decay: float) -> int | None:
    """Of the recent items (most recent first), the one whose neighbour list gives ``item`` the
    largest weight, recency included (the earliest on a tie); None when none lists it."""
    if not recent:
        return None
    sources = np.asarray(recent, dtype=np.int64)
    hits = idx[sources] == item
    first = hits.argmax(axis=1)
    weight = w[sources, first].astype(np.float64) * decay ** np.arange(sources.size)
    weight[~hits.any(axis=1)] = 0.0
    best = int(weight.argmax())
    return int(sources[best]) if weight[best] > 0 else None


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
