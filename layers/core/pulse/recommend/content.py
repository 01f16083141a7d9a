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


def tastes(profile: UserProfile | None) -> Tastes:
    if profile is None:
        return Tastes()
    now = profile.behavior.last_seen or profile.updated_at
    hl = profile.half_life_seconds
    prefs = profile.preferences
    return Tastes(
        categories=_scaled(prefs.categories.top(TOP_AFFINITIES, now, hl)),
        intent=_scaled(profile.intent.categories.top(TOP_AFFINITIES, now, INTENT_HALF_LIFE_SECONDS)),
        brands=_scaled(prefs.brands.top(TOP_AFFINITIES, now, hl)),
        bands=_scaled(prefs.price_bands.top(TOP_AFFINITIES, now, hl)),
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

        return cls(
            items=list(items),
            position={item.item_id: i for i, item in enumerate(items)},
            by_category=arrays(cats),
            by_brand=arrays(brands),
            by_band=arrays(bands),
            created_at=np.asarray([item.created_at for item in items], dtype=np.float64),
            n_categories=np.asarray([len(set(item.categories)) for item in items], dtype=np.float64),
        )

    def __len__(self) -> int:
        return len(self.items)

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
