"""Use cases behind the recommendation routes: typed answers, with telemetry beside them.

Profiles are read on every request: no cache stands between the updater and the next answer. Before
any model is promoted, every route answers from the live catalogue and live popularity
(``live_answers``) with ``model_version`` null; with a model, catalogue items it does not know yet
join its answers by content.
"""

import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from pulse.domain.activity import DEFAULT_WINDOW, InvalidWindow, parse_window
from pulse.domain.experiments import Experiment, Variant
from pulse.domain.profile import UserProfile
from pulse.errors import InvalidRequest, ModelUnavailable, UnknownItem, UnknownSegment
from pulse.http.models import ListedItem, PopularItems, RankedItems, Recommendations, ScoredItem, SimilarItems
from pulse.ports import ProfileStore
from pulse.recommend import lists
from pulse.recommend.explain import Explainer
from pulse.recommend.frozen import frozen_profile
from pulse.recommend.scorer import Recommendation, Scorer, significant
from pulse.services import live_answers
from pulse.services.catalog_view import CatalogView
from pulse.services.experiments import Experiments
from pulse.services.live_answers import LiveContext
from pulse.services.live_popularity import LivePopularity
from pulse.services.model_holder import HeldVersions, ModelHolder


@dataclass(frozen=True)
class Serving:
    """What the recommendation routes read: the served model (if any) with the live catalogue, and
    live popularity."""

    holder: ModelHolder
    popularity: LivePopularity | None = None
    new_item_share: float = 0.2
    experiments: Experiments | None = None
    versions: HeldVersions | None = None  # model versions experiments serve besides the promoted one

    @property
    def view(self) -> CatalogView | None:
        return self.holder.catalog

    def live(self, profile: UserProfile | None = None, window: str = DEFAULT_WINDOW) -> LiveContext | None:
        """The live context (None without a catalogue copy, as in tests of the model alone)."""
        if self.view is None:
            return None
        try:
            period = parse_window(window)
        except InvalidWindow as exc:
            raise InvalidRequest(str(exc)) from exc
        totals = self.popularity.totals(period) if self.popularity is not None else {}
        return LiveContext(self.view, totals, window, profile)

    def require_live(self, profile: UserProfile | None = None, window: str = DEFAULT_WINDOW) -> LiveContext:
        """The live context, when there is no model to answer from."""
        live = self.live(profile, window)
        if live is None:
            raise ModelUnavailable("no model version has been promoted yet, and no catalogue is configured")
        return live


@dataclass(frozen=True)
class PageRequest:
    """What a recommendations request asks for."""

    user_id: str
    k: int
    category: str | None
    exclude: Sequence[str]
    explain: bool


@dataclass(frozen=True)
class Telemetry:
    """What a request cost, for metrics: not part of the answer."""

    cold_start: bool
    candidates: int
    exposure_lost: bool = False  # answered under an experiment, but its exposure was not counted


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
    serving: Serving,
    store: ProfileStore,
    user_id: str,
    k: int,
    category: str | None,
    exclude: Sequence[str],
    explain: bool,
) -> RecommendationAnswer:
    """The user's page: under the experiment that takes the user (if any), as its variant serves."""
    profile = _profile(store, user_id)
    assigned = serving.experiments.assign(user_id, profile.segments if profile else ()) if serving.experiments else None
    request = PageRequest(user_id, k, category, exclude, explain)
    if assigned is None:
        body, telemetry = _page(serving, serving.holder.serving(), profile, request)
        return RecommendationAnswer(body, telemetry)
    experiment, variant = assigned
    exposure: list[Future[bool]] = []

    def ready() -> None:  # the variant's scorer is in hand: its exposure is written while the page is scored
        if serving.experiments is not None:
            exposure.append(serving.experiments.start_exposure(experiment, variant.name, user_id, time.time()))

    body, telemetry = _variant_page(serving, experiment, variant, profile, request, ready)
    body.recommendation_id = experiment.recommendation_id(variant.name)
    body.experiment, body.variant = experiment.experiment_id, variant.name
    exposed = all(f.result() for f in exposure) and bool(exposure)
    return RecommendationAnswer(body, Telemetry(telemetry.cold_start, telemetry.candidates, not exposed))


def _variant_page(
    serving: Serving,
    experiment: Experiment,
    variant: Variant,
    profile: UserProfile | None,
    request: PageRequest,
    ready: Callable[[], None],
) -> tuple[Recommendations, Telemetry]:
    """The variant's page; ``ready`` is called once what serves it is in hand (a held version loaded)."""
    serve, scorer = variant.serve, serving.holder.serving()
    if serve.strategy == "popular":
        ready()
        recs = _popular_page(serving, profile, request.k, request.category, request.exclude)
        version = scorer.model.version if scorer is not None else None
        return _answer(request, version, recs), Telemetry(cold_start=profile is None, candidates=len(recs))
    if serve.strategy == "model" and serve.model_version != (scorer.model.version if scorer else None):
        if serving.versions is None:
            raise ModelUnavailable(f"experiment {experiment.experiment_id}: no model versions are held for it")
        scorer = serving.versions.scorer(serve.model_version or "")
    frozen = frozen_profile(profile, serve.as_of) if serve.strategy == "frozen" and profile and serve.as_of else None
    ready()
    return _page(serving, scorer, profile, request, frozen)


def _page(
    serving: Serving,
    scorer: Scorer | None,
    profile: UserProfile | None,
    request: PageRequest,
    frozen: UserProfile | None = None,
) -> tuple[Recommendations, Telemetry]:
    """The page from ``scorer`` (live answers without one); with ``frozen``, scored as that profile
    but leaving out what the live profile has seen."""
    live = serving.live(frozen or profile)
    k, category, exclude = request.k, request.category, request.exclude
    if scorer is None:
        recs = live_answers.live_page(live or serving.require_live(), k, exclude, category)
        return _answer(request, None, recs), Telemetry(cold_start=profile is None, candidates=len(recs))
    sig = scorer.signals(frozen or profile)
    if frozen is not None:
        sig.seen = scorer.signals(profile).seen
    recs, candidates = scorer.page(sig, k=k, exclude=exclude, category=category, explain=request.explain)
    if live is not None:
        recs = live_answers.with_new_items(recs, live, scorer.model, k, serving.new_item_share, exclude, category)
        _from_catalogue(recs, live.view)
    return _answer(request, scorer.model.version, recs), Telemetry(cold_start=sig.is_cold, candidates=candidates)


def _answer(request: PageRequest, model_version: str | None, recs: list[Recommendation]) -> Recommendations:
    return Recommendations(
        user_id=request.user_id,
        recommendation_id=str(uuid.uuid4()),
        model_version=model_version,
        items=[_item(r, request.explain) for r in recs],
    )


def _popular_page(
    serving: Serving, profile: UserProfile | None, k: int, category: str | None, exclude: Sequence[str]
) -> list[Recommendation]:
    """Live popularity, the same for everyone (what the user has seen or bought left out); the
    model's popularity when nothing was counted in the window (a replay of an old log, a quiet hour)."""
    seen = set(profile.behavior.interacted) | set(profile.behavior.purchased) if profile else set()
    skip = seen | set(exclude)
    live = serving.live(None)
    scorer = serving.holder.serving()
    if live is not None and (live.popularity or scorer is None):
        return live_answers.live_page(live, k, sorted(skip), category)
    if scorer is None:
        scorer = serving.holder.current()  # raises: nothing to answer from
    ranked = lists.popular(scorer.model, k + len(skip), None, category)
    return _from_catalogue([r for r in ranked if r.item_id not in skip][:k], serving.view)


def rank(serving: Serving, store: ProfileStore, user_id: str, item_ids: Sequence[str], explain: bool) -> RankedItems:
    """The given items in personalised order; ids the model does not know are kept, ranked last
    (those the live catalogue holds in content order, before ids nothing knows)."""
    holder = serving.holder
    scorer = holder.serving()
    profile = _profile(store, user_id)
    live = serving.live(profile)
    blocked = holder.blocked()  # unavailable or deleted in the live catalogue: left out
    requested = [item for item in dict.fromkeys(item_ids) if item not in blocked]  # de-duplicated, order kept
    if scorer is None:
        rows = _content_rows(live or serving.require_live(), requested, explain, "unknown to the catalogue")
        return RankedItems(user_id=user_id, recommendation_id=str(uuid.uuid4()), model_version=None, items=rows)
    model = scorer.model
    sig = scorer.signals(profile)
    known = [(item, model.index[item]) for item in requested if item in model.index]
    unknown = [item for item in requested if item not in model.index]
    raw, z = scorer.score_items(sig, np.asarray([i for _, i in known], dtype=np.int64))
    probability = scorer.probability(sig, raw)
    order = np.argsort(-raw, kind="stable")
    explainer = Explainer(scorer, sig)
    rows = []
    for pos in order:
        item, index = known[int(pos)]
        rec = Recommendation(item, significant(float(probability[pos])), metadata=dict(model.metadata[index]))
        _from_catalogue([rec], serving.view)
        if explain:
            rec.reasons = explainer.reasons(index, z[:, pos] if z.size else None)
        rows.append(_item(rec, explain))
    if live is not None:
        rows += _content_rows(live, unknown, explain, "unknown to the model")
    else:
        rows += [
            ScoredItem(item_id=item, score=None, reasons=["unknown to the model"] if explain else None)
            for item in unknown
        ]
    return RankedItems(user_id=user_id, recommendation_id=str(uuid.uuid4()), model_version=model.version, items=rows)


def _from_catalogue(recs: list[Recommendation], view: CatalogView | None) -> list[Recommendation]:
    """Item metadata as the live catalogue has it now (over what the model was trained with)."""
    if view is not None and view.items:
        for rec in recs:
            if (item := view.items.get(rec.item_id)) is not None:
                rec.metadata = rec.metadata | item.metadata()
    return recs


def _listed(rec: Recommendation) -> ListedItem:
    return ListedItem(item_id=rec.item_id, score=rec.score, reasons=rec.reasons, metadata=rec.metadata or None)


def _content_rows(live: LiveContext, item_ids: list[str], explain: bool, unknown: str) -> list[ScoredItem]:
    return [
        ScoredItem(item_id=item, score=score, reasons=[reason] if explain else None, metadata=_held(live.view, item))
        for item, score, reason in live_answers.content_ranked(live, item_ids, unknown)
    ]


def _held(view: CatalogView, item_id: str) -> dict[str, object] | None:
    item = view.items.get(item_id)
    return item.metadata() or None if item is not None else None


def similar(serving: Serving, item_id: str, k: int) -> SimilarItems:
    scorer = serving.holder.serving()
    model = scorer.model if scorer is not None else None
    if model is not None and item_id in model.index:
        items = [_listed(r) for r in _from_catalogue(lists.similar(model, item_id, k), serving.view)]
        return SimilarItems(item_id=item_id, model_version=model.version, items=items)
    found = live_answers.similar_in_catalogue(serving.view, model, item_id, k) if serving.view is not None else None
    if found is None:
        if model is None and serving.view is None:
            serving.holder.current()  # raises: nothing to answer from
        raise UnknownItem(f"neither the model nor the catalogue knows an item {item_id}")
    return SimilarItems(
        item_id=item_id, model_version=model.version if model else None, items=[_listed(r) for r in found]
    )


def popular(
    serving: Serving, k: int, segment: str | None, category: str | None, window: str | None = None
) -> PopularItems:
    """With a ``window``, live interactions of that period; without one, the model's popularity and
    trend, or live popularity of ``DEFAULT_WINDOW`` before any model."""
    scorer = serving.holder.serving()
    model = scorer.model if scorer is not None else None
    if model is not None and window is None:
        items = [_listed(r) for r in _from_catalogue(lists.popular(model, k, segment, category), serving.view)]
        return PopularItems(segment=segment, category=category, model_version=model.version, items=items)
    if segment is not None:  # live counters are kept over everyone, not per segment
        when = f"over a window ({window})" if window is not None else "before a model is trained"
        raise UnknownSegment(f"no popularity for segment {segment} {when}: ask without segment, or without window")
    live = serving.require_live(window=window or DEFAULT_WINDOW)
    items = [_listed(r) for r in live_answers.popular_now(live, model, k, category)]
    return PopularItems(
        segment=None, category=category, window=live.window, model_version=model.version if model else None, items=items
    )
