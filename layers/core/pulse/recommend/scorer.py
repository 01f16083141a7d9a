"""Profile-aware scoring of precomputed candidates (numpy only). The API serves it; offline
evaluation calls it too, so published metrics are the metrics of what is served.

1. Signals from the profile: distinct recent items (most recent first, recency-weighted), decayed item
   affinities (positive and negative), decayed category affinities, segments, what to leave out.
2. Candidates: neighbours of recent and liked items, transitions that follow the latest items, popular
   items of the user's segments, trending and globally popular items.
3. Features per candidate, standardised, combined by the learned linear ranker (``ranker.json``).
4. Filters (seen / purchased / ``exclude`` / ``category`` / unavailable), then diversity: no primary
   category takes more than ``diversity_cap`` of the page while other candidates remain.
"""

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pulse.domain.profile import UserProfile
from pulse.recommend.artifacts import RecModel
from pulse.recommend.explain import Explainer
from pulse.recommend.features import (
    ItemCategories,
    Slots,
    Spread,
    largest,
    sum_at,
    top_k,
    top_positions,
)

POPULAR_CANDIDATES = 200
TOP_FIRST = 10  # a page of k is chosen from the best 10 k candidates unless diversity needs more
SPREAD_FEATURES = {  # feature -> the rows it sums
    "nbr_recent": "recent",
    "nbr_affinity": "affinity",
    "transition": "transition",
    "negative": "negative",
    "nbr_history": "history",
}


@dataclass
class Signals:
    recent: list[int] = field(default_factory=list)  # model indexes, most recent first, distinct
    recent_kind: dict[int, str] = field(default_factory=dict)
    affinity: list[tuple[int, float]] = field(default_factory=list)
    negative: list[tuple[int, float]] = field(default_factory=list)
    categories: dict[str, float] = field(default_factory=dict)
    segments: list[str] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)

    @property
    def is_cold(self) -> bool:
        return not self.recent and not self.affinity


@dataclass
class Recommendation:
    item_id: str
    score: float
    reasons: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def signals_from_profile(model: RecModel, profile: UserProfile | None, max_recent: int = 20) -> Signals:
    sig = Signals()
    if profile is None:
        return sig
    index = model.index
    for interaction in reversed(profile.behavior.recent):
        i = index.get(interaction.item_id)
        if (
            i is None
            or i in sig.recent_kind
            or interaction.event_type in ("ad_impression", "dislike", "remove_from_cart")
        ):
            continue
        sig.recent.append(i)
        sig.recent_kind[i] = interaction.event_type
        if len(sig.recent) >= max_recent:
            break
    now = profile.behavior.last_seen or profile.updated_at
    hl = profile.half_life_seconds
    for item, score in profile.preferences.items.at(now, hl).items():
        i = index.get(item)
        if i is not None:
            (sig.affinity if score > 0 else sig.negative).append((i, score))
    sig.categories = {c: s for c, s in profile.preferences.categories.at(now, hl).items() if s > 0}
    sig.segments = [s for s in profile.segments if s in model.segment_names]
    sig.seen = {index[i] for i in list(profile.behavior.interacted) + list(profile.behavior.purchased) if i in index}
    return sig


def significant(value: float) -> float:
    """Six significant digits: small probabilities keep their order instead of rounding to 0."""
    return float(f"{value:.6g}")


class Scorer:
    def __init__(self, model: RecModel) -> None:
        self.model = model
        ranker = model.ranker
        self.params = ranker.params
        self.features = list(ranker.features)
        self.coef = np.asarray(ranker.coef, dtype=np.float64)
        self.intercept = ranker.intercept
        self.mean = np.asarray(ranker.mean, dtype=np.float64)
        self.std = np.asarray(ranker.std, dtype=np.float64)
        self.std[self.std == 0] = 1.0
        # the ranker folded into one weight per raw feature: no standardised copy of the features
        self.weights = self.coef / self.std
        self.offset = float(self.intercept - self.weights @ self.mean)
        self.cold_start = ranker.cold_start
        self.diversity_cap = ranker.diversity_cap
        self.calibration = ranker.calibration
        n = model.n_items
        self.log_pop = np.log1p(model.pop * 1000.0).astype(np.float32)
        self.popular = top_k(model.pop, POPULAR_CANDIDATES)
        self.trending_top = top_k(model.trending, POPULAR_CANDIDATES // 2)
        self.segment_top = {
            name: top_k(model.segment_pop[s], POPULAR_CANDIDATES // 2) for s, name in enumerate(model.segment_names)
        }
        self.cats_per_item: np.ndarray = np.maximum(1, model.categories.sizes).astype(np.float32)
        # what every candidate reads, side by side (16 bytes an item, gathered as one complex128:
        # numpy's fast 1-D gather, one cache line an item instead of three)
        columns = [self.log_pop, model.trending.astype(np.float32), self.cats_per_item, self.log_pop]
        self.statics = np.stack(columns, axis=1).view(np.complex128).ravel()
        self.primary = model.categories.primary()
        self.slots = Slots(n)
        self.item_categories = ItemCategories(model.categories)

    # ------------------------------------------------------------------ features
    def rows(self, sig: Signals, history: bool = True) -> dict[str, list[tuple[int, float]]]:
        """The weighted neighbour rows each spread feature sums: recent items (recency-decayed), the
        latest items for transitions, positive and negative affinities, and the whole history."""
        p = self.params
        aff_total = sum(s for _, s in sig.affinity) or 1.0
        neg_total = sum(-s for _, s in sig.negative) or 1.0
        return {
            "recent": [(i, p.recency_decay**r) for r, i in enumerate(sig.recent[: p.recent_items])],
            "transition": [(i, p.transition_decay**r) for r, i in enumerate(sig.recent[: p.transition_items])],
            "affinity": [(i, s / aff_total) for i, s in sig.affinity],
            "negative": [(i, -s / neg_total) for i, s in sig.negative],
            # everything the user interacted with, undecayed (classic item-to-item scoring)
            "history": [(i, 1.0 / max(1, len(sig.seen))) for i in sig.seen] if history else [],
        }

    def _spreads(self, sig: Signals) -> dict[str, Spread]:
        m, rows = self.model, self.rows(sig, history=False)
        spreads = {name: Spread.of(m.neighbors, rows[name]) for name in ("recent", "affinity", "negative")}
        spreads["transition"] = Spread.of(m.transitions, rows["transition"])
        seen = np.fromiter(sig.seen, dtype=np.int64, count=len(sig.seen))  # the set's order, as rows() has it
        spreads["history"] = Spread.uniform(m.neighbors, seen, 1.0 / max(1, len(sig.seen)))
        return spreads

    def _lists(self, sig: Signals) -> np.ndarray:
        """The candidates no profile row needs to reach: popular, trending and the segments' lists."""
        parts = [self.popular, self.trending_top]
        parts += [self.segment_top[s] for s in sig.segments if s in self.segment_top]
        return np.concatenate(parts).astype(np.int64, copy=False)

    def score(self, sig: Signals) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate indexes (in no particular order), their ranker scores, and their raw features (one
        row per feature; ``standardise`` gives the ranker's view). One pass over the touched items: the
        targets of the recent, affinity and transition rows with the lists, every spread summed there,
        the candidates those with a non-zero reaching sum or on a list."""
        sp, lists = self._spreads(sig), self._lists(sig)
        reaching = (sp["recent"].targets, sp["affinity"].targets, sp["transition"].targets, lists)
        with self.slots.distinct(np.concatenate(reaching)) as (touched, slot):
            sums = {key: sum_at(slot, touched.size, sp[key]) for key in SPREAD_FEATURES.values()}
            listed = slot[lists]
        keep = (sums["recent"] + sums["affinity"] + sums["transition"]) != 0
        keep[listed] = True
        # the _rel features' scale: the largest sum anywhere (a zero elsewhere only matters below 1e-9)
        scale = (largest(sums["recent"]), largest(sums["transition"]))
        if keep.all():  # the usual case (every reached item has a non-zero sum): no copies
            return (touched, *self._score_at(sig, sums, touched, scale))
        cand = touched[keep]
        return (cand, *self._score_at(sig, {key: v[keep] for key, v in sums.items()}, cand, scale))

    def score_items(self, sig: Signals, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ranker scores and standardised features of the given item indexes (candidates or not)."""
        sp = self._spreads(sig)
        reaching = (items.astype(np.int64, copy=False), sp["recent"].targets, sp["transition"].targets)
        with self.slots.distinct(np.concatenate(reaching)) as (unique, slot):  # the scale needs every reached item
            sums = {key: sum_at(slot, unique.size, sp[key]) for key in SPREAD_FEATURES.values()}
            back = slot[items]
        scale = (largest(sums["recent"]), largest(sums["transition"]))
        raw, matrix = self._score_at(sig, sums, unique, scale)
        return raw[back], (self.standardise(matrix[:, back]) if matrix.size else np.zeros((0, items.size)))

    def _score_at(
        self, sig: Signals, sums: dict[str, np.ndarray], items: np.ndarray, scale: tuple[float, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        if sig.is_cold:
            # measured at training time: segment popularity or global popularity for users with no history
            use_segment = self.cold_start == "segment" and sig.segments
            base = self._segment_pop_at(sig, items) if use_segment else self.model.pop[items]
            return base.astype(np.float64) + 1e-6 * self.model.pop[items], np.zeros((0, items.size))
        matrix = self._matrix(sig, sums, items, scale)
        return self.linear(matrix), matrix

    def _matrix(
        self, sig: Signals, sums: dict[str, np.ndarray], items: np.ndarray, scale: tuple[float, float]
    ) -> np.ndarray:
        """The features of ``items`` (float32, one row per feature), as the dense reference has them."""
        matrix = np.empty((len(self.features), items.size), dtype=np.float32)
        statics = self.statics[items].view(np.float32).reshape(-1, 4)
        computed: dict[str, Callable[[], np.ndarray]] = {
            "category_affinity": lambda: self.item_categories.affinity(items, sig.categories) / statics[:, 2],
            "log_pop": lambda: statics[:, 0],
            "trending": lambda: statics[:, 1],
            "segment_pop": lambda: self._segment_pop_at(sig, items),
            "nbr_recent_rel": lambda: sums["recent"] / max(1e-9, scale[0]),
            "transition_rel": lambda: sums["transition"] / max(1e-9, scale[1]),
        }
        for row, name in enumerate(self.features):
            matrix[row] = sums[SPREAD_FEATURES[name]] if name in SPREAD_FEATURES else computed[name]()
        return matrix

    def _segment_pop_at(self, sig: Signals, items: np.ndarray) -> np.ndarray:
        rows = [self.model.segment_names.index(s) for s in sig.segments]
        if not rows:
            return np.zeros(items.size, dtype=np.float32)
        at: np.ndarray = self.model.segment_pop[np.asarray(rows)[:, None], items]  # no catalogue-long copy
        return at.mean(axis=0).astype(np.float32)

    def standardise(self, matrix: np.ndarray) -> np.ndarray:
        """Raw features (one row per feature) as the ranker sees them."""
        standard: np.ndarray = (matrix.astype(np.float64) - self.mean[:, None]) / self.std[:, None]
        return standard

    def linear(self, matrix: np.ndarray) -> np.ndarray:
        """The ranker's score of raw features: ``coef @ standardise(matrix) + intercept``, folded."""
        scores: np.ndarray = self.weights @ matrix.astype(np.float64) + self.offset
        return scores

    def probability(self, sig: Signals, raw: np.ndarray) -> np.ndarray:
        """Raw scores on the answer's one scale: calibrated probability of being the next interaction."""
        cal = self.calibration
        return cal.cold_probability(raw) if sig.is_cold else cal.warm_probability(raw)

    # ------------------------------------------------------------------ the page
    def recommend(
        self,
        profile: UserProfile | None,
        k: int = 10,
        exclude: Iterable[str] = (),
        category: str | None = None,
        explain: bool = False,
        diversity: bool = True,
    ) -> list[Recommendation]:
        sig = self.signals(profile)
        return self.page(sig, k, exclude, category, explain, diversity)[0]

    def signals(self, profile: UserProfile | None) -> Signals:
        return signals_from_profile(self.model, profile, self.params.recent_items)

    def page(
        self,
        sig: Signals,
        k: int = 10,
        exclude: Iterable[str] = (),
        category: str | None = None,
        explain: bool = False,
        diversity: bool = True,
    ) -> tuple[list[Recommendation], int]:
        """The page of ``k`` items for these signals, and how many candidates were scored."""
        m = self.model
        cand, scores, matrix = self.score(sig)
        keep = m.available[cand]
        if sig.seen:
            keep &= ~self.slots.member(cand, np.fromiter(sig.seen, dtype=np.int64, count=len(sig.seen)))
        excluded = [m.index[x] for x in exclude if x in m.index]
        if excluded:
            keep &= ~self.slots.member(cand, np.asarray(excluded, dtype=np.int64))
        if category is not None:
            keep &= self.slots.member(cand, m.category_index.get(category, np.zeros(0, dtype=np.int32)))
        positions = np.flatnonzero(keep)
        order, complete = top_positions(cand, scores, positions, TOP_FIRST * k)
        chosen = self._diversify(cand, order, k) if diversity else list(order[:k])
        if len(chosen) < k and not complete:  # diversity needed more than the top: order them all
            chosen = self._diversify(cand, top_positions(cand, scores, positions, positions.size)[0], k)
        out = []
        probability = self.probability(sig, scores[chosen]) if chosen else np.zeros(0)
        z = self.standardise(matrix[:, chosen]) if explain and matrix.size else None
        explainer = Explainer(self, sig)
        for n, (pos, p) in enumerate(zip(chosen, probability, strict=True)):
            i = int(cand[pos])
            rec = Recommendation(m.item_ids[i], significant(float(p)), metadata=dict(m.metadata[i]))
            if explain:
                rec.reasons = explainer.reasons(i, z[:, n] if z is not None else None)
            out.append(rec)
        return out, int(cand.size)

    def _diversify(self, cand: np.ndarray, order: np.ndarray, k: int) -> list[int]:
        cap = max(1, math.ceil(k * self.diversity_cap))
        counts: dict[int, int] = {}
        chosen: list[int] = []
        deferred: list[int] = []
        for pos in order:
            if len(chosen) >= k:
                break
            primary = int(self.primary[int(cand[pos])])
            if counts.get(primary, 0) >= cap:
                deferred.append(int(pos))
                continue
            counts[primary] = counts.get(primary, 0) + 1
            chosen.append(int(pos))
        if len(chosen) < k:  # not enough variety left: fill with the best of the rest
            chosen += deferred[: k - len(chosen)]
        return chosen
