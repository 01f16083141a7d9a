"""Synthetic models for the benchmarks and scoring tests: any number of items, lists of any length.

Items have one of 200 categories and a Pareto popularity; each list is random items with strictly
decreasing weights. ``lengths`` sets each item's neighbour and transition list lengths (default:
every list full, the worst case for size and scoring; ``trained_lengths`` gives a trained model's).
"""

from __future__ import annotations

import numpy as np

from pulse.recommend.artifacts import RecModel, model_files
from pulse.recommend.compact import Categories, ItemLists, Metadata
from pulse.recommend.ranker import FEATURES, RankerSpec

SEGMENTS = ["age_under_25", "age_25_34", "age_35_49", "age_50_plus"]
WEIGHTS = {  # a ranker that uses every feature
    "nbr_recent": 0.5,
    "nbr_affinity": 0.1,
    "transition": 0.3,
    "log_pop": 0.1,
    "trending": 0.05,
    "segment_pop": 0.1,
    "category_affinity": 0.2,
    "negative": -0.1,
    "nbr_recent_rel": 0.5,
    "transition_rel": 0.2,
    "nbr_history": 0.2,
}


def random_lists(rng: np.random.Generator, n_items: int, lengths: np.ndarray) -> ItemLists:
    ptr = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(lengths, out=ptr[1:])
    total = int(ptr[-1])
    owner = np.repeat(np.arange(n_items), lengths)
    position = np.arange(total) - ptr[owner]
    scale = rng.random(n_items).astype(np.float32) + 0.5
    # 1 / (1 + position + u/2) with u in [0, 1): strictly decreasing along every list
    w = (scale[owner] / (1.0 + position + 0.5 * rng.random(total))).astype(np.float32)
    return ItemLists(ptr, rng.integers(0, n_items, total).astype(np.int32), w)


def synthetic_model(
    n_items: int, neighbors: int = 100, seed: int = 0, lengths: tuple[np.ndarray, np.ndarray] | None = None
) -> RecModel:
    rng = np.random.default_rng(seed)
    cats = rng.integers(0, 200, n_items)
    pop = (rng.pareto(1.2, n_items) + 1).astype(np.float32)
    pop /= pop.max()
    full = np.full(n_items, neighbors, dtype=np.int64)
    nbr_lengths, tr_lengths = (full, full) if lengths is None else lengths
    names = [f"cat{c}" for c in range(200)]
    metadata = Metadata.from_dicts([{"title": f"Item {i}", "category": [names[c]]} for i, c in enumerate(cats)])
    ranker = RankerSpec.model_validate(
        {
            "features": list(FEATURES),
            "coef": [WEIGHTS.get(f, 0.0) for f in FEATURES],
            "intercept": 0.0,
            "mean": [0.0] * len(FEATURES),
            "std": [1.0] * len(FEATURES),
            "cold_start": "global",
            "diversity_cap": 0.4,
            # what training chose on MovieLens: 30 recent items feed neighbours and transitions
            "params": {"recency_decay": 0.8, "recent_items": 30, "transition_decay": 0.95, "transition_items": 30},
        }
    )
    return RecModel(
        version="synthetic",
        item_ids=[f"sku-{i}" for i in range(n_items)],
        metadata=metadata,
        categories=Categories(names, np.arange(n_items + 1, dtype=np.int64), cats.astype(np.int32)),
        available=np.ones(n_items, dtype=bool),
        neighbors=random_lists(rng, n_items, nbr_lengths),
        transitions=random_lists(rng, n_items, tr_lengths),
        pop=pop,
        trending=pop[::-1].copy(),
        segment_names=list(SEGMENTS),
        segment_pop=rng.random((len(SEGMENTS), n_items)).astype(np.float32),
        ranker=ranker,
        manifest={},
    )


def synthetic_files(
    n_items: int, neighbors: int = 100, seed: int = 0, lengths: tuple[np.ndarray, np.ndarray] | None = None
) -> dict[str, bytes]:
    return model_files(synthetic_model(n_items, neighbors, seed, lengths))


def trained_lengths(n_items: int, events: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The list lengths (neighbours, transitions) training's sparse item models give for ``n_items``
    items fitted on ``events`` interactions (users of 10 interactions, items drawn with a Zipf-like
    popularity as ``pulse synthetic`` draws them), cached under .cache/bench/."""
    from infrastructure.template import ROOT
    from training import models

    path = ROOT / ".cache" / "bench" / f"lengths-{n_items}-{events}-{seed}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as cached:
            return cached["neighbors"], cached["transitions"]
    rng = np.random.default_rng(seed)
    weight = 1.0 / np.arange(1, n_items + 1) ** 0.9
    weight = (weight / weight.sum())[rng.permutation(n_items)]
    items = rng.choice(n_items, size=events, p=weight).astype(np.int64)
    users = np.repeat(np.arange(events // 10 + 1), 10)[:events]
    x = models.interaction_matrix(users, items, int(users[-1]) + 1, n_items)
    nbr_idx, _ = models.cosine_neighbors(x, 100)
    tr_idx, _ = models.transitions(users, items, np.ones(events, dtype=bool), n_items, 100)
    lengths = (nbr_idx >= 0).sum(axis=1), (tr_idx >= 0).sum(axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, neighbors=lengths[0], transitions=lengths[1])
    return lengths
