"""The serving scorer, which works over the items a request touches, answers exactly as the dense
reference (one catalogue-long vector per feature) on seeded users and profiles of every length: the
same candidates, features equal bit for bit, scores within BLAS's last bit, the same pages."""

import json
import time

import numpy as np
import pytest

from pulse.domain.events import parse_event
from pulse.domain.updater import PositionedEvent, apply_user_events
from pulse.recommend import dense
from pulse.recommend.artifacts import build_manifest, load_model, model_files
from pulse.recommend.compact import Categories, ItemLists
from pulse.recommend.explain import VERBS, Explainer
from pulse.recommend.ranker import RankerSpec
from pulse.recommend.scorer import Scorer, Signals
from scripts.synthetic_model import synthetic_model as synthetic
from tests.modelkit import tiny_model, version_files

KINDS = ["view", "view", "rate", "purchase", "add_to_cart", "like", "dislike", "click"]


def synthetic_model(n_items: int, negative_weights: bool):
    model = synthetic(n_items, neighbors=30, seed=3)
    if negative_weights:  # EASE-style neighbour weights can be negative: most are, here
        for name in ("neighbors", "transitions"):
            lists = getattr(model, name)
            w = (lists.w - 0.8).astype(np.float32)
            w[::7] = 0.0  # and some are zero: items reached with a zero sum are no candidates
            setattr(model, name, ItemLists(lists.ptr, lists.idx, w))
        names = model.categories.names  # and items belong to one to three categories
        extra = [names[i % 7 : i % 7 + i % 3] for i in range(len(names))]
        model.categories = Categories.from_lists(
            [[c, *(x for x in extra[i % len(extra)] if x != c)] for i, [c] in enumerate(model.categories)]
        )
        ranker = model.ranker.model_dump()
        ranker |= {"mean": [0.01 * i for i in range(len(ranker["coef"]))], "std": [0.5] * len(ranker["coef"])}
        model.ranker = RankerSpec.model_validate(ranker)
    files = model_files(model, narrow=False)
    return load_model("v", json.dumps(build_manifest("v", files)).encode(), files)


def profile(model, user: int, length: int, rng: np.random.Generator):
    now = time.time()
    events = [
        {
            "event_id": "id",
            "event_type": "identify",
            "user_id": f"u{user}",
            "timestamp": now - 7200,
            "traits": {"age": int(rng.integers(16, 70))},
        }
    ]
    for k in range(length):
        i = int(rng.integers(0, model.n_items))
        kind = KINDS[int(rng.integers(0, len(KINDS)))]
        event = {
            "event_id": f"{user}-{k}",
            "event_type": kind,
            "user_id": f"u{user}",
            "timestamp": now - 3600 + k,
            "item_id": model.item_ids[i],
            "item": {"category": model.categories[i]},
        }
        event |= {"value": float(rng.integers(1, 6))} if kind in ("rate", "purchase") else {}
        events.append(event)
    parsed = [PositionedEvent(parse_event(e, now=now + 60)) for e in events]
    return apply_user_events(None, f"u{user}", parsed, now, 14).state.profile


def reference_page(scorer: Scorer, sig: Signals, k: int, exclude: list[str], category: str | None) -> list:
    """The page as the dense scorer made it: every candidate sorted, stable, then diversified."""
    m = scorer.model
    cand, scores, _ = dense.score(scorer, sig)
    keep = m.available[cand].copy()
    if sig.seen:
        keep &= ~np.isin(cand, list(sig.seen))
    excluded = [m.index[x] for x in exclude if x in m.index]
    keep &= ~np.isin(cand, excluded) if excluded else keep
    if category is not None:
        keep &= np.isin(cand, m.category_index.get(category, np.zeros(0, dtype=np.int32)))
    positions = np.flatnonzero(keep)
    order = positions[np.argsort(-scores[positions], kind="stable")]
    chosen = scorer._diversify(cand, order, k)
    return [(m.item_ids[int(cand[p])], float(scores[p])) for p in chosen]


def reference_source(scorer: Scorer, feature: str, item: int, sig: Signals) -> int | None:
    """The recent item an explanation names, as the scorer found it before: a loop over the recent
    items, the strongest weight (recency included) winning, the earliest on a tie."""
    m = scorer.model
    lists = m.transitions if feature == "transition" else m.neighbors
    decay = scorer.params.transition_decay if feature == "transition" else scorer.params.recency_decay
    best, best_w = None, 0.0
    for rank, source in enumerate(sig.recent):
        idx, w = lists.row(source)
        hit = np.flatnonzero(idx == item)
        weight = float(w[hit[0]]) * decay**rank if hit.size else 0.0
        if weight > best_w:
            best, best_w = source, weight
    return best


@pytest.mark.parametrize("negative_weights", [False, True])
def test_candidates_scores_and_pages_equal_the_dense_reference(negative_weights: bool) -> None:
    model = synthetic_model(3000, negative_weights)
    scorer, rng = Scorer(model), np.random.default_rng(7)
    for user, length in enumerate([0, 1, 2, 5, 20, 60, 200, 1000] * 3):
        sig = scorer.signals(profile(model, user, length, rng) if length else None)
        cand, raw, features = scorer.score(sig)
        ref_cand, ref_raw, ref_features = dense.score(scorer, sig)
        order = np.argsort(cand)
        assert np.array_equal(cand[order], ref_cand), (user, length)
        assert np.array_equal(features[:, order], ref_features) if features.size else ref_features.size == 0
        assert np.allclose(raw[order], ref_raw, rtol=1e-12, atol=1e-12), (user, length)  # BLAS's last bit
        category = model.categories[int(rng.integers(0, model.n_items))][0] if user % 4 == 3 else None
        exclude = [model.item_ids[int(i)] for i in rng.integers(0, model.n_items, 5)]
        for k in (1, 10, 100):
            page = scorer.page(sig, k=k, exclude=exclude, category=category, explain=k == 10)[0]
            expected = reference_page(scorer, sig, k, exclude, category)
            assert [r.item_id for r in page] == [item for item, _ in expected], (user, length, k)
        for rec in scorer.page(sig, k=10, explain=True)[0]:  # explanations name the same sources
            item = model.index[rec.item_id]
            for feature in ("nbr_recent", "transition"):
                source, wanted = reference_source(scorer, feature, item, sig), None
                if source is not None:
                    title = model.metadata[source].get("title") or model.item_ids[source]
                    verb = VERBS.get(sig.recent_kind.get(source, ""), "liked")
                    wanted = f"often next after {title}" if feature == "transition" else f"because you {verb} {title}"
                assert Explainer(scorer, sig).reason(feature, item) == wanted
        items = rng.integers(0, model.n_items, 50)
        items[3] = items[7]  # rank's ids may repeat
        raw_items, z_items = scorer.score_items(sig, items)
        matrix, _ = dense.feature_matrix(scorer, sig)
        if not sig.is_cold:
            expected_z = (matrix[:, items].astype(np.float64) - scorer.mean[:, None]) / scorer.std[:, None]
            scale = max(1.0, float(np.abs(expected_z).max()))  # the ranker is folded: rounding of the largest term
            assert np.allclose(raw_items, scorer.coef @ expected_z + scorer.intercept, rtol=0, atol=1e-12 * scale)
            assert np.array_equal(z_items, expected_z)


def test_the_trained_model_answers_as_the_dense_reference() -> None:
    manifest, files = version_files(tiny_model(), "v1")
    model = load_model("v1", manifest, files)
    scorer, rng = Scorer(model), np.random.default_rng(11)
    for user, length in enumerate([0, 1, 3, 10, 40]):
        sig = scorer.signals(profile(model, user, length, rng) if length else None)
        cand, raw, _ = scorer.score(sig)
        ref_cand, ref_raw, _ = dense.score(scorer, sig)
        order = np.argsort(cand)
        assert np.array_equal(cand[order], ref_cand) and np.allclose(raw[order], ref_raw, rtol=0, atol=1e-12)
        page = [r.item_id for r in scorer.page(sig, k=10)[0]]
        assert page == [item for item, _ in reference_page(scorer, sig, 10, [], None)]
