"""Use cases behind the recommendation routes: typed answers, with telemetry beside them.

Profiles are read on every request: no cache stands between the updater and the next answer.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pulse.domain.profile import UserProfile
from pulse.http.models import ListedItem, PopularItems, RankedItems, Recommendations, ScoredItem, SimilarItems
from pulse.ports import ProfileStore
from pulse.recommend import lists
from pulse.recommend.scorer import Recommendation, significant
from pulse.services.model_holder import ModelHolder


@dataclass(frozen=True)
class Telemetry:
    """What a request cost, for metrics: not part of the answer."""

    cold_start: bool
    candidates: int


@dataclass(frozen=True)
class RecommendationAnswer:
    body: Recommendations
    telemetry: Telemetry


def _item(rec: Recommendation, explain: bool) -> ScoredItem:
    return ScoredItem(
        item_id=rec.item_id,
        score=rec.score,
        reasons=rec.reasons if explain else None,
        metadata=rec.metadata or None,
    )


def _profile(store: ProfileStore, user_id: str) -> UserProfile | None:
    stored = store.load(user_id)
    return stored.state.profile if stored and not stored.is_tombstone else None


def recommend(
    holder: ModelHolder,
    store: ProfileStore,
    user_id: str,
    k: int,
    category: str | None,
    exclude: Sequence[str],
    explain: bool,
) -> RecommendationAnswer:
    scorer = holder.current()
    sig = scorer.signals(_profile(store, user_id))
    recs, candidates = scorer.page(sig, k=k, exclude=exclude, category=category, explain=explain)
    body = Recommendations(
        user_id=user_id,
        recommendation_id=str(uuid.uuid4()),
        model_version=scorer.model.version,
        items=[_item(r, explain) for r in recs],
    )
    return RecommendationAnswer(body, Telemetry(cold_start=sig.is_cold, candidates=candidates))


def rank(holder: ModelHolder, store: ProfileStore, user_id: str, item_ids: Sequence[str], explain: bool) -> RankedItems:
    """The given items in personalised order; ids the model does not know are kept, ranked last."""
    scorer = holder.current()
    model = scorer.model
    sig = scorer.signals(_profile(store, user_id))
    blocked = holder.blocked()  # unavailable or deleted in the live catalogue: left out
    requested = [item for item in dict.fromkeys(item_ids) if item not in blocked]  # de-duplicated, order kept
    known = [(item, model.index[item]) for item in requested if item in model.index]
    unknown = [item for item in requested if item not in model.index]
    raw, z = scorer.score_items(sig, np.asarray([i for _, i in known], dtype=np.int64))
    probability = scorer.probability(sig, raw)
    order = np.argsort(-raw, kind="stable")
    rows = []
    for pos in order:
        item, index = known[int(pos)]
        rec = Recommendation(item, significant(float(probability[pos])), metadata=dict(model.metadata[index]))
        if explain:
            rec.reasons = scorer.reasons(index, sig, z[:, pos] if z.size else None)
        rows.append(_item(rec, explain))
    rows += [
        ScoredItem(item_id=item, score=None, reasons=["unknown to the model"] if explain else None) for item in unknown
    ]
    return RankedItems(user_id=user_id, recommendation_id=str(uuid.uuid4()), model_version=model.version, items=rows)


def _listed(rec: Recommendation) -> ListedItem:
    return ListedItem(item_id=rec.item_id, score=rec.score, reasons=rec.reasons, metadata=rec.metadata or None)


def similar(holder: ModelHolder, item_id: str, k: int) -> SimilarItems:
    model = holder.current().model
    items = [_listed(r) for r in lists.similar(model, item_id, k)]
    return SimilarItems(item_id=item_id, model_version=model.version, items=items)


def popular(holder: ModelHolder, k: int, segment: str | None, category: str | None) -> PopularItems:
    model = holder.current().model
    items = [_listed(r) for r in lists.popular(model, k, segment, category)]
    return PopularItems(segment=segment, category=category, model_version=model.version, items=items)
