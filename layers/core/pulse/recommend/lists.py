"""Item lists that need no profile: items like an item, and popular items (numpy only).

Their scores are relative, 0-1: similarity to the item against its closest neighbour, and popularity
against the most popular item of the list's scope.
"""

import math

import numpy as np

from pulse.errors import UnknownItem, UnknownSegment
from pulse.recommend.artifacts import RecModel
from pulse.recommend.scorer import Recommendation, significant


def similar(model: RecModel, item_id: str, k: int) -> list[Recommendation]:
    index = model.index.get(item_id)
    if index is None:
        raise UnknownItem(f"the model knows no item {item_id}")
    title = model.metadata[index].get("title") or item_id
    row_idx, row_w = model.neighbors.row(index)
    usable = row_w > 0
    usable[usable] &= model.available[row_idx[usable]]
    picked = np.flatnonzero(usable)[:k]
    top = float(row_w[picked].max()) if picked.size else 1.0
    return [
        Recommendation(
            model.item_ids[int(row_idx[p])],
            significant(float(row_w[p]) / top),
            reasons=[f"similar to {title}"],
            metadata=dict(model.metadata[int(row_idx[p])]),
        )
        for p in picked
    ]


def popular(model: RecModel, k: int, segment: str | None, category: str | None) -> list[Recommendation]:
    if segment is not None:
        if segment not in model.segment_names:
            raise UnknownSegment(f"the model has no popularity for segment {segment}")
        scores = model.segment_pop[model.segment_names.index(segment)].astype(np.float64)
        reason = f"popular among {segment}"
    else:
        scores = 0.5 * model.pop.astype(np.float64) + 0.5 * model.trending.astype(np.float64)
        reason = "popular and trending"
    mask = model.available.copy()
    if category is not None:
        in_category = np.zeros(model.n_items, dtype=bool)
        members = model.category_index.get(category)
        if members is not None:
            in_category[members] = True
        mask &= in_category
    order = np.flatnonzero(mask & np.isfinite(scores) & (scores >= 0))
    order = order[np.argsort(-scores[order], kind="stable")][:k]
    top = float(scores[order[0]]) if order.size and scores[order[0]] > 0 else 1.0
    return [
        Recommendation(
            model.item_ids[i],
            significant(min(1.0, float(scores[i]) / top)) if math.isfinite(top) else 0.0,
            reasons=[reason],
            metadata=dict(model.metadata[i]),
        )
        for i in order.tolist()
    ]
