"""Use cases behind the recommendation routes, and the served model's life cycle.

``ModelHolder`` loads the promoted version at cold start, checks the pointer at most every
``MODEL_REFRESH_SECONDS`` and swaps in a new version only after it verified and decoded completely; a
version that fails keeps the current one serving (and is counted). Profiles are read on every request:
no cache stands between the updater and the next answer.
"""

import logging
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from pulse.adapters.ports import ProfileStore
from pulse.domain.profile import UserProfile
from pulse.recommend.artifacts import ArtifactError, RecModel, load_model
from pulse.recommend.scorer import Recommendation, Scorer

log = logging.getLogger(__name__)


class ModelSource(Protocol):
    def pointer_version(self) -> str | None: ...

    def fetch(self, version: str) -> tuple[bytes, dict[str, bytes]]: ...


class ModelUnavailable(Exception):
    """No model version has been promoted (or none could be loaded yet)."""


class UnknownItem(LookupError):
    pass


class UnknownSegment(LookupError):
    pass


@dataclass
class ModelHolder:
    source: ModelSource
    refresh_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    on_failure: Callable[[str, str], None] = lambda version, reason: None
    scorer: Scorer | None = None
    checked_at: float | None = None
    failures: int = 0
    failed_versions: dict[str, str] = field(default_factory=dict)

    @property
    def version(self) -> str | None:
        return self.scorer.model.version if self.scorer else None

    def current(self) -> Scorer:
        now = self.clock()
        if self.checked_at is None or now - self.checked_at >= self.refresh_seconds:
            self.checked_at = now
            self.refresh()
        if self.scorer is None:
            raise ModelUnavailable("no model version has been promoted yet")
        return self.scorer

    def refresh(self) -> None:
        try:
            version = self.source.pointer_version()
        except Exception as exc:  # S3 unreachable: keep serving what we have
            log.warning("model pointer unreadable: %s", exc)
            return
        if version is None or version == self.version:
            return
        try:
            model = load_model(version, *self.source.fetch(version))
        except ArtifactError as exc:
            self.failures += 1
            self.failed_versions[version] = str(exc)
            log.error("model %s refused, still serving %s: %s", version, self.version, exc)
            self.on_failure(version, str(exc))
            return
        self.scorer = Scorer(model)
        log.info("now serving model %s", version)


def _item(rec: Recommendation, explain: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"item_id": rec.item_id, "score": rec.score}
    if explain:
        out["reasons"] = rec.reasons
    if rec.metadata:
        out["metadata"] = rec.metadata
    return out


def _profile(store: ProfileStore, user_id: str) -> UserProfile | None:
    stored = store.load(user_id)
    return stored.state.profile if stored else None


def _envelope(user_id: str | None, scorer: Scorer, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"recommendation_id": str(uuid.uuid4()), "model_version": scorer.model.version}
    if user_id is not None:
        body = {"user_id": user_id, **body}
    return body | extra | {"items": items}


def recommend(
    holder: ModelHolder,
    store: ProfileStore,
    user_id: str,
    k: int,
    category: str | None,
    exclude: Sequence[str],
    explain: bool,
) -> dict[str, Any]:
    scorer = holder.current()
    sig = scorer.signals(_profile(store, user_id))
    recs, candidates = scorer.page(sig, k=k, exclude=exclude, category=category, explain=explain)
    return _envelope(user_id, scorer, [_item(r, explain) for r in recs], cold_start=sig.is_cold, candidates=candidates)


def rank(
    holder: ModelHolder, store: ProfileStore, user_id: str, item_ids: Sequence[str], explain: bool
) -> dict[str, Any]:
    """The given items in personalised order; ids the model does not know are kept, ranked last."""
    scorer = holder.current()
    model = scorer.model
    sig = scorer.signals(_profile(store, user_id))
    requested = list(dict.fromkeys(item_ids))  # de-duplicated, order kept
    known = [(item, model.index[item]) for item in requested if item in model.index]
    unknown = [item for item in requested if item not in model.index]
    scores, z = scorer.score_items(sig, np.asarray([i for _, i in known], dtype=np.int64))
    rows = []
    for pos, (item, index) in enumerate(known):
        rec = Recommendation(item, round(float(scores[pos]), 6), metadata=dict(model.metadata[index]))
        if explain:
            rec.reasons = scorer.reasons(index, sig, z[:, pos] if z.size else None)
        rows.append(rec)
    rows.sort(key=lambda r: -r.score)
    items = [_item(r, explain) for r in rows]
    items += [
        {"item_id": item, "score": None} | ({"reasons": ["unknown to the model"]} if explain else {})
        for item in unknown
    ]
    return _envelope(user_id, scorer, items)


def similar(holder: ModelHolder, item_id: str, k: int) -> dict[str, Any]:
    scorer = holder.current()
    model = scorer.model
    index = model.index.get(item_id)
    if index is None:
        raise UnknownItem(item_id)
    title = model.metadata[index].get("title") or item_id
    items = []
    for j, w in zip(model.nbr_idx[index], model.nbr_w[index], strict=True):
        if j < 0 or not model.available[j]:
            continue
        items.append(
            {
                "item_id": model.item_ids[j],
                "score": round(float(w), 6),
                "reasons": [f"similar to {title}"],
                "metadata": dict(model.metadata[j]),
            }
        )
        if len(items) >= k:
            break
    return {"item_id": item_id, "model_version": model.version, "items": items}


def popular(holder: ModelHolder, k: int, segment: str | None, category: str | None) -> dict[str, Any]:
    scorer = holder.current()
    model = scorer.model
    if segment is not None:
        if segment not in model.segment_names:
            raise UnknownSegment(segment)
        scores = model.segment_pop[model.segment_names.index(segment)].astype(np.float64)
        reason = f"popular among {segment}"
    else:
        scores = 0.5 * model.pop.astype(np.float64) + 0.5 * model.trending.astype(np.float64)
        reason = "popular and trending"
    mask = model.available.copy()
    if category is not None:
        members = model.category_index.get(category)
        mask &= np.isin(np.arange(model.n_items), members if members is not None else [])
    order = np.flatnonzero(mask)
    order = order[np.argsort(-scores[order], kind="stable")][:k]
    items = [
        {
            "item_id": model.item_ids[i],
            "score": round(float(scores[i]), 6),
            "reasons": [reason],
            "metadata": dict(model.metadata[i]),
        }
        for i in order
        if math.isfinite(scores[i])
    ]
    return {"segment": segment, "category": category, "model_version": model.version, "items": items}


def loaded_model(holder: ModelHolder) -> RecModel | None:
    try:
        return holder.current().model
    except ModelUnavailable:
        return None
