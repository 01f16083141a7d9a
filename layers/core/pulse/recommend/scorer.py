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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pulse.domain.profile import UserProfile
from pulse.recommend.artifacts import RecModel

POPULAR_CANDIDATES = 200
VERBS = {
    "rate": "rated",
    "purchase": "bought",
    "add_to_cart": "added",
    "like": "liked",
    "view": "viewed",
    "click": "clicked",
    "ad_click": "clicked",
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


def _spread(n: int, idx: np.ndarray, w: np.ndarray, rows: Iterable[tuple[int, float]]) -> np.ndarray:
    """Sum of ``weight * neighbour weight`` over the given rows' neighbour lists, as a dense vector."""
    out = np.zeros(n, dtype=np.float32)
    pairs = list(rows)
    if not pairs:
        return out
    r = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
    weights = np.fromiter((p[1] for p in pairs), dtype=np.float32, count=len(pairs))
    targets = idx[r]
    contrib = weights[:, None] * w[r]
    mask = targets >= 0
    np.add.at(out, targets[mask], contrib[mask])
    return out


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
        self.cold_start = ranker.cold_start
        self.diversity_cap = ranker.diversity_cap
        self.calibration = ranker.calibration
        n = model.n_items
        self.log_pop = np.log1p(model.pop * 1000.0).astype(np.float32)
        self.popular = np.argsort(-model.pop, kind="stable")[:POPULAR_CANDIDATES]
        self.trending_top = np.argsort(-model.trending, kind="stable")[: POPULAR_CANDIDATES // 2]
        self.segment_top = {
            name: np.argsort(-model.segment_pop[s], kind="stable")[: POPULAR_CANDIDATES // 2]
            for s, name in enumerate(model.segment_names)
        }
        self.cats_per_item = np.maximum(1, np.asarray([len(c) for c in model.categories], dtype=np.float32))
        self.primary = [c[0] if c else "" for c in model.categories]
        self.zero = np.zeros(n, dtype=np.float32)

    # ------------------------------------------------------------------ features
    def feature_matrix(self, sig: Signals) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Dense per-item feature vectors (one row per feature) and the candidate indexes."""
        m, p, n = self.model, self.params, self.model.n_items
        decay, k_recent = p.recency_decay, p.recent_items
        recent = [(i, decay**r) for r, i in enumerate(sig.recent[:k_recent])]
        tdecay, k_trans = p.transition_decay, p.transition_items
        trans_rows = [(i, tdecay**r) for r, i in enumerate(sig.recent[:k_trans])]
        aff_total = sum(s for _, s in sig.affinity) or 1.0
        neg_total = sum(-s for _, s in sig.negative) or 1.0
        vectors = {
            "nbr_recent": _spread(n, m.nbr_idx, m.nbr_w, recent),
            "nbr_affinity": _spread(n, m.nbr_idx, m.nbr_w, [(i, s / aff_total) for i, s in sig.affinity]),
            "transition": _spread(n, m.tr_idx, m.tr_w, trans_rows),
            "log_pop": self.log_pop,
            "trending": m.trending,
            "segment_pop": self._segment_pop(sig),
            "category_affinity": self._category_affinity(sig),
            "negative": _spread(n, m.nbr_idx, m.nbr_w, [(i, -s / neg_total) for i, s in sig.negative]),
        }
        # everything the user interacted with, undecayed (classic item-to-item scoring over the history)
        history = [(i, 1.0 / max(1, len(sig.seen))) for i in sig.seen]
        vectors["nbr_history"] = _spread(n, m.nbr_idx, m.nbr_w, history)
        # the same signals relative to this user's strongest candidate: scale-free across users
        vectors["nbr_recent_rel"] = vectors["nbr_recent"] / max(1e-9, float(vectors["nbr_recent"].max()))
        vectors["transition_rel"] = vectors["transition"] / max(1e-9, float(vectors["transition"].max()))
        return np.vstack([vectors[f] for f in self.features]), vectors

    def _segment_pop(self, sig: Signals) -> np.ndarray:
        rows = [self.model.segment_names.index(s) for s in sig.segments]
        if not rows:
            return self.zero
        return self.model.segment_pop[rows].mean(axis=0).astype(np.float32)

    def _category_affinity(self, sig: Signals) -> np.ndarray:
        if not sig.categories:
            return self.zero
        total = sum(sig.categories.values())
        out = np.zeros(self.model.n_items, dtype=np.float32)
        for cat, score in sig.categories.items():
            members = self.model.category_index.get(cat)
            if members is not None:
                out[members] += score / total
        return out / self.cats_per_item

    def candidates(self, sig: Signals, vectors: dict[str, np.ndarray]) -> np.ndarray:
        parts = [
            np.flatnonzero(vectors["nbr_recent"] + vectors["nbr_affinity"] + vectors["transition"]),
            self.popular,
            self.trending_top,
        ]
        parts += [self.segment_top[s] for s in sig.segments if s in self.segment_top]
        return np.unique(np.concatenate(parts))

    def score(self, sig: Signals) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate indexes, their ranker scores, and their standardised features."""
        matrix, vectors = self.feature_matrix(sig)
        cand = self.candidates(sig, vectors)
        return (cand, *self._score_at(sig, matrix, vectors, cand))

    def score_items(self, sig: Signals, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ranker scores and standardised features of the given item indexes (candidates or not)."""
        matrix, vectors = self.feature_matrix(sig)
        return self._score_at(sig, matrix, vectors, items)

    def _score_at(
        self, sig: Signals, matrix: np.ndarray, vectors: dict[str, np.ndarray], items: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        if sig.is_cold:
            # measured at training time: segment popularity or global popularity for users with no history
            base = vectors["segment_pop"] if self.cold_start == "segment" and sig.segments else self.model.pop
            return base[items].astype(np.float64) + 1e-6 * self.model.pop[items], np.zeros((0, items.size))
        z = (matrix[:, items].astype(np.float64) - self.mean[:, None]) / self.std[:, None]
        return self.coef @ z + self.intercept, z

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
        cand, scores, z = self.score(sig)
        keep = m.available[cand].copy()
        if sig.seen:
            keep &= ~np.isin(cand, np.fromiter(sig.seen, dtype=np.int64))
        excluded = [m.index[x] for x in exclude if x in m.index]
        if excluded:
            keep &= ~np.isin(cand, excluded)
        if category is not None:
            members = m.category_index.get(category, np.zeros(0, dtype=np.int32))
            keep &= np.isin(cand, members)
        positions = np.flatnonzero(keep)
        order = positions[np.argsort(-scores[positions], kind="stable")]
        chosen = self._diversify(cand, order, k) if diversity else list(order[:k])
        out = []
        probability = self.probability(sig, scores[chosen]) if chosen else np.zeros(0)
        for pos, p in zip(chosen, probability, strict=True):
            i = int(cand[pos])
            rec = Recommendation(m.item_ids[i], significant(float(p)), metadata=dict(m.metadata[i]))
            if explain:
                rec.reasons = self.reasons(i, sig, z[:, pos] if z.size else None)
            out.append(rec)
        return out, int(cand.size)

    def _diversify(self, cand: np.ndarray, order: np.ndarray, k: int) -> list[int]:
        cap = max(1, math.ceil(k * self.diversity_cap))
        counts: dict[str, int] = {}
        chosen: list[int] = []
        deferred: list[int] = []
        for pos in order:
            if len(chosen) >= k:
                break
            primary = self.primary[int(cand[pos])]
            if counts.get(primary, 0) >= cap:
                deferred.append(int(pos))
                continue
            counts[primary] = counts.get(primary, 0) + 1
            chosen.append(int(pos))
        if len(chosen) < k:  # not enough variety left: fill with the best of the rest
            chosen += deferred[: k - len(chosen)]
        return chosen

    # ------------------------------------------------------------------ explanations
    def reasons(self, item: int, sig: Signals, z: np.ndarray | None) -> list[str]:
        if z is None:
            if self.cold_start == "segment" and sig.segments:
                return [f"popular among {sig.segments[0]}"]
            return ["popular right now"]
        contributions = sorted(
            ((float(self.coef[f] * z[f]), name) for f, name in enumerate(self.features)), reverse=True
        )
        out: list[str] = []
        for value, name in contributions:
            if value <= 0 or len(out) >= 2:
                break
            text = self._reason(name, item, sig)
            if text and text not in out:
                out.append(text)
        return out or ["matches your recent activity"]

    def _reason(self, feature: str, item: int, sig: Signals) -> str | None:
        m = self.model
        if feature in ("nbr_recent", "nbr_affinity", "transition"):
            idx, w = (m.tr_idx, m.tr_w) if feature == "transition" else (m.nbr_idx, m.nbr_w)
            best, best_w = None, 0.0
            decay = self.params.transition_decay if feature == "transition" else self.params.recency_decay
            for rank, source in enumerate(sig.recent):
                hit = np.flatnonzero(idx[source] == item)
                weight = float(w[source, hit[0]]) * decay**rank if hit.size else 0.0
                if weight > best_w:  # the source that contributed most, recency included
                    best, best_w = source, weight
            if best is None:
                return None
            title = m.metadata[best].get("title") or m.item_ids[best]
            if feature == "transition":
                return f"often next after {title}"
            return f"because you {VERBS.get(sig.recent_kind.get(best, ''), 'liked')} {title}"
        if feature == "segment_pop" and sig.segments:
            return f"popular among {sig.segments[0]}"
        if feature == "trending":
            cats = m.categories[item]
            return f"trending in {cats[0]}" if cats else "trending now"
        if feature == "category_affinity":
            cats = [c for c in m.categories[item] if c in sig.categories]
            return f"you like {cats[0]}" if cats else None
        if feature == "log_pop":
            return "popular overall"
        return None
