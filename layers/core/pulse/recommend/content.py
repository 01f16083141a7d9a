"""Scoring by content: items no model knows yet, matched to a profile by what they are (numpy only).

A ``LiveItems`` set indexes catalogue items by category, brand and price band once (when the serving
copy of the catalogue changes), so scoring a profile against thousands of them is a handful of
vector operations: its top category, brand and price-band affinities (time-decayed, positive only,
each scaled to its strongest) and the current session's categories (intent).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from pulse.domain.catalog import CatalogItem
from pulse.domain.profile import INTENT_HALF_LIFE_SECONDS, UserProfile, price_band

# how much each kind of match adds to a content score (a category match is the unit)
WEIGHTS = {"category": 1.0, "intent": 0.8, "brand": 0.5, "band": 0.3}
TOP_AFFINITIES = 20


@dataclass
class Tastes:
    """A profile's positive affinities, each map scaled so its strongest is 1."""

    categories: dict[str, float] = field(default_factory=dict)
    intent: dict[str, float] = field(default_factory=dict)
    brands: dict[str, float] = field(default_factory=dict)
    bands: dict[str, float] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.categories or self.intent or self.brands or self.bands)


def _scaled(pairs: Iterable[tuple[str, float]]) -> dict[str, float]:
    positive = {k: v for k, v in pairs if v > 0}
    top = max(positive.values(), default=0.0)
    return {k: v / top for k, v in positive.items()} if top > 0 else {}


def tastes(profile: UserProfile | None, now: float) -> Tastes:
    """Long-term affinities as of the user's last event (as the model's signals read them); the
    session's categories as of ``now``, the request's time (intent fades within the hour)."""
    if profile is None:
        return Tastes()
    last = profile.behavior.last_seen or profile.updated_at
    hl = profile.half_life_seconds
    prefs = profile.preferences
    return Tastes(
        categories=_scaled(prefs.categories.top(TOP_AFFINITIES, last, hl)),
        intent=_scaled(profile.intent.categories.top_at_least(TOP_AFFINITIES, 0.05, now, INTENT_HALF_LIFE_SECONDS)),
        brands=_scaled(prefs.brands.top(TOP_AFFINITIES, last, hl)),
        bands=_scaled(prefs.price_bands.top(TOP_AFFINITIES, last, hl)),
    )


@dataclass
class LiveItems:
    """Catalogue items indexed for content scoring; positions index ``items``."""

    items: list[CatalogItem]
    position: dict[str, int]
    by_category: dict[str, np.ndarray]
    by_brand: dict[str, np.ndarray]
    by_band: dict[str, np.ndarray]
    created_at: np.ndarray
    n_categories: np.ndarray
    tie_rank: np.ndarray  # each item's place by (newest first, then id): how equal scores are ordered
    _weights: tuple[dict[str, float], np.ndarray, list[tuple[str, float]]] | None = None

    def weights(self, popularity: dict[str, float]) -> tuple[np.ndarray, list[tuple[str, float]]]:
        """Each item's weight in ``popularity`` (0 when absent), and the popular items not held here,
        heaviest first; kept while the same totals are served, so a request does not look them up."""
        cached = self._weights
        if cached is not None and cached[0] is popularity:
            return cached[1], cached[2]
        out = np.zeros(len(self.items))
        held = [(self.position[i], w) for i, w in popularity.items() if i in self.position]
        if held:
            rows, values = zip(*held, strict=True)
            out[list(rows)] = values
        outside = sorted(
            ((i, w) for i, w in popularity.items() if i not in self.position), key=lambda iw: (-iw[1], iw[0])
        )
        self._weights = (popularity, out, outside)
        return out, outside

    @classmethod
    def build(cls, items: Sequence[CatalogItem]) -> LiveItems:
        cats: dict[str, list[int]] = {}
        brands: dict[str, list[int]] = {}
        bands: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            for c in dict.fromkeys(item.categories):
                cats.setdefault(c, []).append(i)
            if item.brand:
                brands.setdefault(item.brand, []).append(i)
            if item.price is not None:
                bands.setdefault(price_band(item.price), []).append(i)

        def arrays(groups: dict[str, list[int]]) -> dict[str, np.ndarray]:
            return {k: np.asarray(v, dtype=np.int64) for k, v in groups.items()}

        order = sorted(range(len(items)), key=lambda i: (-items[i].created_at, items[i].item_id))
        tie_rank = np.empty(len(items), dtype=np.int64)
        tie_rank[order] = np.arange(len(items))
        return cls(
            items=list(items),
            position={item.item_id: i for i, item in enumerate(items)},
            by_category=arrays(cats),
            by_brand=arrays(brands),
            by_band=arrays(bands),
            created_at=np.asarray([item.created_at for item in items], dtype=np.float64),
            n_categories=np.asarray([len(set(item.categories)) for item in items], dtype=np.float64),
            tie_rank=tie_rank,
        )

    def __len__(self) -> int:
        return len(self.items)

    def mask(self, skip: Iterable[str], category: str | None) -> np.ndarray:
        """Which items may be shown: not in ``skip``, and in ``category`` when one is asked for."""
        if category is None:
            allowed = np.ones(len(self.items), dtype=bool)
        else:
            allowed = np.zeros(len(self.items), dtype=bool)
            if (rows := self.by_category.get(category)) is not None:
                allowed[rows] = True
        allowed[[p for i in skip if (p := self.position.get(i)) is not None]] = False
        return allowed

    def best(self, scores: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray:
        """Positions of the ``k`` best allowed items, best first; equal scores newest first, then by
        id (a stable answer). Only the top ``k`` are sorted."""
        idx = np.flatnonzero(allowed)
        if k <= 0 or not len(idx):
            return idx[:0]
        if len(idx) > k:
            s = scores[idx]
            kth = s[np.argpartition(-s, k - 1)[k - 1]]
            above, tied = idx[s > kth], idx[s == kth]
            tied = tied[np.argsort(self.tie_rank[tied], kind="stable")[: k - len(above)]]
            idx = np.concatenate([above, tied])
        return idx[np.lexsort((self.tie_rank[idx], -scores[idx]))]

    def scores(self, t: Tastes) -> np.ndarray:
        """Each item's content score for these tastes (0: nothing in common)."""
        n = len(self.items)
        category, intent, out = np.zeros(n), np.zeros(n), np.zeros(n)
        for name, value in t.categories.items():  # an item's best-liked category counts
            if (rows := self.by_category.get(name)) is not None:
                np.maximum.at(category, rows, value)
        for name, value in t.intent.items():
            if (rows := self.by_category.get(name)) is not None:
                np.maximum.at(intent, rows, value)
        out += WEIGHTS["category"] * category + WEIGHTS["intent"] * intent
        for groups, mine, weight in (
            (self.by_brand, t.brands, WEIGHTS["brand"]),
            (self.by_band, t.bands, WEIGHTS["band"]),
        ):
            for name, value in mine.items():
                if (rows := groups.get(name)) is not None:
                    out[rows] += weight * value
        return out

    def reason(self, position: int, t: Tastes, new: bool) -> str:
        """Why an item matches, in words: its category the user likes most, or is browsing now."""
        item = self.items[position]
        browsing = max(item.categories, key=lambda c: t.intent.get(c, 0.0), default=None)
        liked = max(item.categories, key=lambda c: t.categories.get(c, 0.0), default=None)
        prefix = "new in" if new else "in"
        if browsing is not None and t.intent.get(browsing, 0.0) >= t.categories.get(liked or "", 0.0) > 0:
            return f"{prefix} {browsing}, which you are browsing now"
        if liked is not None and t.categories.get(liked, 0.0) > 0:
            return f"{prefix} {liked}, which you like"
        if item.brand and t.brands.get(item.brand, 0.0) > 0:
            return f"{'new from' if new else 'from'} {item.brand}, a brand you like"
        if item.price is not None and t.bands.get(price_band(item.price), 0.0) > 0:
            return f"{'new ' if new else ''}at a price you usually pay"
        return "new in the catalogue" if new else "in the catalogue"

    def similar_to(self, item: CatalogItem) -> np.ndarray:
        """How much each item shares with ``item``: category overlap (Jaccard) plus a brand match."""
        n = len(self.items)
        shared = np.zeros(n)
        mine = set(item.categories)
        for c in mine:
            if (rows := self.by_category.get(c)) is not None:
                shared[rows] += 1.0
        union = np.maximum(self.n_categories + len(mine) - shared, 1.0)
        out = shared / union
        if item.brand and (rows := self.by_brand.get(item.brand)) is not None:
            out[rows] += 0.3
        if (me := self.position.get(item.item_id)) is not None:
            out[me] = 0.0
        return out
