"""The dense reference of the scorer's features: one catalogue-long vector per feature.

Serving computes the same features at the candidates alone (``pulse.recommend.features``). This
form stays for training, which needs features at any item (the held-out target and sampled
negatives), and as the reference the serving path is tested against.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from pulse.recommend.compact import ItemLists

if TYPE_CHECKING:
    from pulse.recommend.scorer import Scorer, Signals


def spread(n: int, lists: ItemLists, rows: Iterable[tuple[int, float]]) -> np.ndarray:
    """Sum of ``weight * list weight`` over the given rows' lists, as a dense vector."""
    out = np.zeros(n, dtype=np.float32)
    pairs = list(rows)
    if not pairs:
        return out
    r = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
    weights = np.fromiter((p[1] for p in pairs), dtype=np.float32, count=len(pairs))
    targets, contributions = lists.spread(r, weights)
    real = targets >= 0
    np.add.at(out, targets[real], contributions[real])
    return out


def feature_matrix(scorer: Scorer, sig: Signals) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Dense per-item feature vectors (one row per feature) and the named vectors."""
    m, n, rows = scorer.model, scorer.model.n_items, scorer.rows(sig)
    vectors = {
        "nbr_recent": spread(n, m.neighbors, rows["recent"]),
        "nbr_affinity": spread(n, m.neighbors, rows["affinity"]),
        "transition": spread(n, m.transitions, rows["transition"]),
        "log_pop": scorer.log_pop,
        "trending": m.trending,
        "segment_pop": segment_pop(scorer, sig),
        "category_affinity": category_affinity(scorer, sig),
        "negative": spread(n, m.neighbors, rows["negative"]),
        "nbr_history": spread(n, m.neighbors, rows["history"]),
    }
    vectors["nbr_recent_rel"] = vectors["nbr_recent"] / max(1e-9, float(vectors["nbr_recent"].max()))
    vectors["transition_rel"] = vectors["transition"] / max(1e-9, float(vectors["transition"].max()))
    return np.vstack([vectors[f] for f in scorer.features]), vectors


def segment_pop(scorer: Scorer, sig: Signals) -> np.ndarray:
    rows = [scorer.model.segment_names.index(s) for s in sig.segments]
    if not rows:
        return np.zeros(scorer.model.n_items, dtype=np.float32)
    return scorer.model.segment_pop[rows].mean(axis=0).astype(np.float32)


def category_affinity(scorer: Scorer, sig: Signals) -> np.ndarray:
    out = np.zeros(scorer.model.n_items, dtype=np.float32)
    if not sig.categories:
        return out
    total = sum(sig.categories.values())
    for cat, score in sig.categories.items():
        members = scorer.model.category_index.get(cat)
        if members is not None:
            out[members] += score / total
    affinity: np.ndarray = out / scorer.cats_per_item
    return affinity


def candidates(scorer: Scorer, sig: Signals, vectors: dict[str, np.ndarray]) -> np.ndarray:
    parts = [
        np.flatnonzero(vectors["nbr_recent"] + vectors["nbr_affinity"] + vectors["transition"]),
        scorer.popular,
        scorer.trending_top,
    ]
    parts += [scorer.segment_top[s] for s in sig.segments if s in scorer.segment_top]
    return np.unique(np.concatenate(parts))


def score(scorer: Scorer, sig: Signals) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates (sorted), their raw scores and raw features, the dense way."""
    matrix, vectors = feature_matrix(scorer, sig)
    cand = candidates(scorer, sig, vectors)
    if sig.is_cold:
        base = vectors["segment_pop"] if scorer.cold_start == "segment" and sig.segments else scorer.model.pop
        return cand, base[cand].astype(np.float64) + 1e-6 * scorer.model.pop[cand], np.zeros((0, cand.size))
    return cand, scorer.linear(matrix[:, cand]), matrix[:, cand]
