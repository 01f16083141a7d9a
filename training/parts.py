"""The item models of one fit (neighbours, transitions, popularity), and the served model built from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pulse.recommend.artifacts import RecModel
from pulse.recommend.compact import Categories, ItemLists
from pulse.recommend.ranker import RankerSpec
from training import models
from training.dataset import Dataset, Params


@dataclass
class Parts:
    nbr_idx: np.ndarray
    nbr_w: np.ndarray
    tr_idx: np.ndarray
    tr_w: np.ndarray
    pop: np.ndarray
    trending: np.ndarray
    segment_pop: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


def fit_parts(data: Dataset, params: Params, drop_last: int) -> Parts:
    """The item models on each user's interactions minus the last ``drop_last``. Neighbour lists and
    transitions are cached per training run by what they depend on (grid points share them)."""
    keep = data.kept(drop_last)
    rows, items, times = data.row_user[keep], data.items[keep], data.times[keep]
    n = len(data.item_ids)
    dense = data.dense
    method = params.method if dense else "knn"
    nbr_key = ("neighbours", drop_last, method, params.ease_lambda if method != "knn" else 0.0, params.neighbors)
    if nbr_key not in data.fits:
        if method == "slis":
            data.fits[nbr_key] = models.window_ease_neighbors(
                data.row_user, data.items, keep, n, params.ease_lambda, params.neighbors
            )
        else:
            x = models.interaction_matrix(rows, items, len(data.user_ids), n)
            data.fits[nbr_key] = (
                models.ease_neighbors(x, params.ease_lambda, params.neighbors)
                if method == "ease"
                else models.cosine_neighbors(x, params.neighbors)
            )
    nbr_idx, nbr_w = data.fits[nbr_key]
    if dense:
        tr_key: tuple[Any, ...] = (
            "slit",
            drop_last,
            params.neighbors,
            params.slit_lambda,
            params.transition_items,
            params.transition_decay,
        )
    else:
        tr_key = ("counted", drop_last, params.neighbors, params.transition_window)
    if tr_key not in data.fits:
        data.fits[tr_key] = (
            models.sequential_regression(
                data.row_user,
                data.items,
                keep,
                n,
                params.neighbors,
                params.slit_lambda,
                params.transition_items,
                params.transition_decay,
            )
            if dense
            else models.transitions(data.row_user, data.items, keep, n, params.neighbors, params.transition_window)
        )
    tr_idx, tr_w = data.fits[tr_key]
    horizon = float(times.max()) if times.size else data.end
    pop, trending = models.popularity(items, times, n, horizon, params.trending_half_life_days * 86400)
    seg_rows = []
    for member in data.membership:
        counts = np.bincount(items[member[rows]], minlength=n).astype(np.float32)
        seg_rows.append(counts / max(1.0, float(counts.max())))
    segment_pop = np.vstack(seg_rows) if seg_rows else np.zeros((0, n), dtype=np.float32)
    return Parts(nbr_idx, nbr_w, tr_idx, tr_w, pop, trending, segment_pop.astype(np.float32))


def rec_model(data: Dataset, parts: Parts, ranker: RankerSpec, version: str = "eval", narrow: bool = True) -> RecModel:
    """The model as it is served: lists with float16 weights (``ItemLists.narrowed``) unless ``narrow``
    is false, so offline figures are those of the published files."""
    neighbors = ItemLists.from_padded(parts.nbr_idx, parts.nbr_w)
    transitions = ItemLists.from_padded(parts.tr_idx, parts.tr_w)
    return RecModel(
        version=version,
        item_ids=data.item_ids,
        metadata=data.metadata,
        categories=Categories.from_lists(data.categories),
        available=np.ones(len(data.item_ids), dtype=bool),
        neighbors=(neighbors.narrowed() if narrow else neighbors).widened(),
        transitions=(transitions.narrowed() if narrow else transitions).widened(),
        pop=parts.pop,
        trending=parts.trending,
        segment_names=data.segment_names,
        segment_pop=parts.segment_pop,
        ranker=ranker,
        manifest={},
    )
