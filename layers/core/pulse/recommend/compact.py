"""The model's per-item data as a few flat arrays (numpy only), in memory as in its files.

A million-item model must load in well under a second and fit the API function: no Python object per
item except the item ids (which the index needs anyway). Neighbour and transition lists are CSR rows
without padding; each item's categories are codes into one list of names; each item's metadata is a
line of JSON parsed only when the item is answered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np


def _positions(ptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the entries of ``rows`` (in row order), and each row's length."""
    start = ptr[rows]
    lengths = ptr[rows + 1] - start
    pos = np.repeat(start - (np.cumsum(lengths) - lengths), lengths)
    pos += np.arange(pos.size)
    return pos, lengths


def _valid_ptr(ptr: np.ndarray, n: int, size: int) -> bool:
    """Row pointers of ``n`` rows over ``size`` entries: from 0 to ``size``, never decreasing."""
    if ptr.ndim != 1 or ptr.size != n + 1:
        return False
    return ptr[0] == 0 and int(ptr[-1]) == size and bool(np.all(ptr[1:] >= ptr[:-1]))


PADDED_FILL = 0.5  # lists at least this full are also held as (n, longest) blocks: see ``spread``


@dataclass(frozen=True)
class ItemLists:
    """Per item, a ranked list of (item, weight), best first: ``idx[ptr[i]:ptr[i + 1]]``."""

    ptr: np.ndarray  # int64, n + 1
    idx: np.ndarray  # int32
    w: np.ndarray  # float32, or float16 scaled by 2**shift (see ``narrowed``)
    shift: int = 0
    padded: tuple[np.ndarray, np.ndarray] | None = field(default=None, compare=False, repr=False)

    def widened(self) -> ItemLists:
        """As served: weights float32 (float16 files are unscaled exactly: converting float16 costs about
        3 ns an entry on x86, per request, against 0.4 ns for float32 arithmetic), and well-filled lists
        also held as (n, longest) blocks, padding target -1 weight 0: a row is then one block copy, where
        CSR positions cost an index an entry (0.07 against 0.26 ms for 642 rows of 100, measured). The
        blocks cost at most 1 / PADDED_FILL of the lists' memory; full lists are a view, no copy."""
        w = self.w if self.w.dtype == np.float32 and not self.shift else self._wide(self.w)
        n, lengths = self.n_items, np.diff(self.ptr)
        width = int(lengths.max()) if n else 0
        padded = None
        if width and self.idx.size == n * width:
            padded = (self.idx.reshape(n, width), w.reshape(n, width))
        elif width and self.idx.size >= PADDED_FILL * n * width:
            inside = np.arange(width)[None, :] < lengths[:, None]
            idx, wide = np.full((n, width), -1, dtype=np.int32), np.zeros((n, width), dtype=np.float32)
            idx[inside], wide[inside] = self.idx, w
            padded = (idx, wide)
        return ItemLists(self.ptr, self.idx, w, 0, padded)

    @classmethod
    def from_padded(cls, idx: np.ndarray, w: np.ndarray) -> ItemLists:
        """From (n, N) arrays padded with -1 (how training fits them)."""
        keep = idx >= 0
        ptr = np.zeros(idx.shape[0] + 1, dtype=np.int64)
        np.cumsum(keep.sum(axis=1), out=ptr[1:])
        return cls(ptr, idx[keep].astype(np.int32), w[keep].astype(np.float32))

    @property
    def n_items(self) -> int:
        return int(self.ptr.size - 1)

    def row(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        start, end = int(self.ptr[item]), int(self.ptr[item + 1])
        return self.idx[start:end], self._wide(self.w[start:end])

    def _wide(self, w: np.ndarray) -> np.ndarray:
        if w.dtype == np.float32:
            return w
        wide: np.ndarray = w.astype(np.float32)
        if self.shift:
            wide *= np.float32(2.0**-self.shift)  # a power of two: exact
        return wide

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The entries of ``rows`` in row order: targets, weights (float32), and the row each came from
        (its position in ``rows``)."""
        rows = np.asarray(rows, dtype=np.int64)
        pos, lengths = _positions(self.ptr, rows)
        return self.idx[pos], self._wide(self.w[pos]), np.repeat(np.arange(rows.size), lengths)

    def spread(self, rows: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Targets and ``weight of the row * weight of the entry`` (float32) of ``rows``' entries, in row
        order, as fast as the layout allows: targets may include padding (-1, contribution 0)."""
        unit = np.asarray(weights, dtype=np.float32) * np.float32(2.0**-self.shift)  # a power of two: exact
        if self.padded is not None:
            idx, w = self.padded
            return idx[rows].ravel(), (unit[:, None] * w[rows]).ravel()
        pos, lengths = _positions(self.ptr, rows)
        return self.idx[pos], np.repeat(unit, lengths) * self.w[pos]

    def narrowed(self) -> ItemLists:
        """Weights as float16, scaled by a power of two that puts them all in float16's normal range
        (so each keeps 11 significant bits: within 0.05 %); unchanged if their range is too wide.
        Rounding is monotonic, so no list's order is reversed: near-equal weights may become equal."""
        if self.w.dtype == np.float16 or not self.w.size:
            return self
        magnitude = np.abs(self.w[self.w != 0])
        if not magnitude.size:
            return ItemLists(self.ptr, self.idx, self.w.astype(np.float16))
        low, high = np.frexp(magnitude.min())[1], np.frexp(magnitude.max())[1]  # value < 2**exponent
        shift = -14 - int(low) + 1  # smallest magnitude scaled to at least 2**-14
        if int(high) + shift > 15:  # the largest would pass 65504: more than 29 binades apart
            return self
        half = np.ldexp(self.w, shift).astype(np.float16)
        return ItemLists(self.ptr, self.idx, half, shift) if np.all(np.isfinite(half)) else self

    def arrays(self) -> dict[str, np.ndarray]:
        return {"ptr": self.ptr, "idx": self.idx, "w": self.w, "shift": np.asarray(self.shift, dtype=np.int32)}

    def valid(self, n: int) -> bool:
        return (
            _valid_ptr(self.ptr, n, self.idx.size)
            and self.idx.size == self.w.size
            and (self.idx.size == 0 or (int(self.idx.min()) >= 0 and int(self.idx.max()) < n))
        )


class Categories(Sequence[list[str]]):
    """Each item's categories (primary first) as codes into ``names``: ``codes[ptr[i]:ptr[i + 1]]``."""

    def __init__(self, names: list[str], ptr: np.ndarray, codes: np.ndarray) -> None:
        self.names, self.ptr, self.codes = names, ptr.astype(np.int64, copy=False), codes.astype(np.int32, copy=False)
        self.sizes = np.diff(self.ptr)  # categories per item

    @classmethod
    def from_lists(cls, categories: Sequence[Sequence[str]]) -> Categories:
        names = sorted({c for cats in categories for c in cats})
        code = {c: k for k, c in enumerate(names)}
        ptr = np.zeros(len(categories) + 1, dtype=np.int64)
        np.cumsum([len(c) for c in categories], out=ptr[1:])
        codes = np.fromiter((code[c] for cats in categories for c in cats), dtype=np.int32, count=int(ptr[-1]))
        return cls(names, ptr, codes)

    def __len__(self) -> int:
        return int(self.ptr.size - 1)

    @overload
    def __getitem__(self, i: int) -> list[str]: ...
    @overload
    def __getitem__(self, i: slice) -> list[list[str]]: ...
    def __getitem__(self, i: int | slice) -> list[str] | list[list[str]]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        return [self.names[int(c)] for c in self.codes[self.ptr[i] : self.ptr[i + 1]]]

    def __iter__(self) -> Iterator[list[str]]:
        return (self[i] for i in range(len(self)))

    def valid(self, n: int) -> bool:
        return _valid_ptr(self.ptr, n, self.codes.size) and (
            self.codes.size == 0 or (int(self.codes.min()) >= 0 and int(self.codes.max()) < len(self.names))
        )

    def members(self) -> dict[str, np.ndarray]:
        """Per category name, its items (int32, ascending)."""
        owner = np.repeat(np.arange(len(self), dtype=np.int32), self.sizes)
        order = np.argsort(self.codes, kind="stable")
        bounds = np.searchsorted(self.codes[order], np.arange(len(self.names) + 1))
        return {name: owner[order[bounds[k] : bounds[k + 1]]] for k, name in enumerate(self.names)}

    def primary(self) -> np.ndarray:
        """Each item's first category code, ``len(names)`` for none."""
        first = np.full(len(self), len(self.names), dtype=np.int32)
        has = self.sizes > 0
        first[has] = self.codes[self.ptr[:-1][has]]
        return first


class Metadata(Sequence[dict[str, Any]]):
    """Each item's metadata: one line of JSON an item in a byte blob, parsed on access (a page reads
    ten; a million dicts would cost seconds and hundreds of MB at load)."""

    def __init__(self, blob: np.ndarray, ptr: np.ndarray) -> None:
        self.blob, self.ptr = blob, ptr.astype(np.int64, copy=False)

    @classmethod
    def from_dicts(cls, metadata: Sequence[dict[str, Any]]) -> Metadata:
        lines = [json.dumps(m, separators=(",", ":"), ensure_ascii=False).encode() for m in metadata]
        ptr = np.zeros(len(lines) + 1, dtype=np.int64)
        np.cumsum([len(line) for line in lines], out=ptr[1:])
        return cls(np.frombuffer(b"".join(lines), dtype=np.uint8), ptr)

    def __len__(self) -> int:
        return int(self.ptr.size - 1)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        try:
            value = json.loads(self.blob[self.ptr[i] : self.ptr[i + 1]].tobytes())
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self[i] for i in range(len(self)))

    def valid(self, n: int) -> bool:
        return _valid_ptr(self.ptr, n, self.blob.size)


SEPARATOR = b"\xff"  # a byte no UTF-8 text contains, so any id can be stored


def ids_blob(item_ids: Sequence[str]) -> np.ndarray:
    """Item ids as one UTF-8 blob, separated by 0xFF."""
    return np.frombuffer(SEPARATOR.join(i.encode() for i in item_ids), dtype=np.uint8)


def ids_from_blob(blob: np.ndarray, n: int) -> list[str]:
    """The ids back (one decode and one split: about 0.1 s for a million); ``n`` of them, or ValueError."""
    if n == 0:
        return []
    ids = blob.tobytes().decode("utf-8", "surrogateescape").split(SEPARATOR.decode("utf-8", "surrogateescape"))
    if len(ids) != n:
        raise ValueError(f"{len(ids)} item ids for {n} items")
    return ids
