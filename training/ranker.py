"""The learned ranker: fit on held-out next items, guarded against its own inputs, given the page's
diversity cap, and calibrated so that its scores are probabilities of the next interaction."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
from sklearn.linear_model import LogisticRegression

from pulse.domain.profile import UserProfile
from pulse.recommend import dense
from pulse.recommend.ranker import FEATURES, Calibration, Platt, RankerSpec, ScoringParams
from pulse.recommend.scorer import Scorer
from training.dataset import Dataset, Params
from training.evaluation import evaluate_a
from training.parts import Parts, rec_model

Shots = dict[str, dict[str, UserProfile]]
SINGLE_FEATURES = ("nbr_recent", "nbr_history", "transition")
DIVERSITY_CAPS = (0.4, 0.6, 1.0)  # most diverse first
DIVERSITY_TOLERANCE = 0.02


def scoring_params(params: Params) -> ScoringParams:
    return ScoringParams(
        recency_decay=params.recency_decay,
        recent_items=max(params.recent_items, params.transition_items),
        transition_decay=params.transition_decay,
        transition_items=params.transition_items,
    )


def one_hot(params: Params, feature: str, **extra: object) -> RankerSpec:
    return RankerSpec.one_hot(feature, scoring_params(params), **extra)


def fit_ranker(
    data: Dataset, parts: Parts, params: Params, shots: Shots, seed: int = 0, negatives_per_user: int = 300
) -> RankerSpec:
    """Logistic regression on held-out next items (stage 1): which candidate features predict them."""
    rng = random.Random(seed)
    scorer = Scorer(rec_model(data, parts, one_hot(params, "nbr_recent")))
    rows, labels = [], []
    for user, shot in shots.items():
        target = data.seq(user)[-3]
        sig = scorer.signals(shot["rank"])
        if sig.is_cold:
            continue
        matrix, vectors = dense.feature_matrix(scorer, sig)  # features at any item: the dense form
        cand = dense.candidates(scorer, sig, vectors)
        cand = cand[~np.isin(cand, list(sig.seen))] if sig.seen else cand
        # negatives drawn uniformly from what the scorer would rank: hard-negative-only sampling teaches
        # the model that popularity is bad (hard negatives are popular), which ranks worse (measured)
        negatives = [int(i) for i in rng.sample(list(cand), min(negatives_per_user, cand.size)) if i != target]
        rows.append(matrix[:, [target, *negatives]].T)
        labels.extend([1] + [0] * len(negatives))
    x = np.vstack(rows).astype(np.float64)
    y = np.asarray(labels)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    lr = LogisticRegression(C=1.0, max_iter=2000)
    lr.fit((x - mean) / std, y)
    return RankerSpec(
        features=list(FEATURES),
        coef=[float(c) for c in lr.coef_[0]],
        intercept=float(lr.intercept_[0]),
        mean=[float(m) for m in mean],
        std=[float(s) for s in std],
        params=scoring_params(params),
    )


def guard_ranker(
    data: Dataset,
    parts: Parts,
    params: Params,
    learned: RankerSpec,
    shots: Shots,
    measured: dict[str, float],
    note: Callable[[str], None],
) -> tuple[RankerSpec, dict[str, float]]:
    """Serve the learned ranker only if it beats each of its strongest single features on validation.
    A linear model fit on sampled negatives can lose to one of its own inputs (measured on the
    synthetic log, where plain item-to-item scoring over the whole history wins); then that feature
    alone is served, and the manifest says so."""
    best_name, best, best_val = "learned", learned, measured
    for feature in SINGLE_FEATURES:
        single = one_hot(params, feature, diversity_cap=learned.diversity_cap)
        val = evaluate_a(data, rec_model(data, parts, single), shots, "val")
        note(f"  validation single feature {feature:14} HR@10 {val['hr@10']:.4f}  NDCG@10 {val['ndcg@10']:.4f}")
        if val["ndcg@10"] > best_val["ndcg@10"]:
            best_name, best, best_val = feature, single, val
    best = best.model_copy(update={"kind": "learned" if best_name == "learned" else f"single feature: {best_name}"})
    note(f"  ranker served: {best.kind}")
    return best, best_val


def choose_diversity(
    data: Dataset, parts: Parts, ranker: RankerSpec, shots: Shots, measured: dict[str, float]
) -> tuple[float, dict[float, dict[str, float]]]:
    """The most diverse page whose validation NDCG@10 is within 2 % of the best cap's: diversity is
    worth a little accuracy, not any amount of it. Returns the cap and the figures of every cap."""
    figures = {}
    for cap in DIVERSITY_CAPS:
        if cap == ranker.diversity_cap:
            figures[cap] = measured
        else:
            capped = ranker.model_copy(update={"diversity_cap": cap})
            figures[cap] = evaluate_a(data, rec_model(data, parts, capped), shots, "val")
    best = max(f["ndcg@10"] for f in figures.values())
    chosen = next(cap for cap in DIVERSITY_CAPS if figures[cap]["ndcg@10"] >= (1 - DIVERSITY_TOLERANCE) * best)
    return chosen, figures


def _platt(x: np.ndarray, y: np.ndarray, fallback: Platt, weight: np.ndarray | None = None) -> Platt:
    """A 1-D logistic fit of ``y`` on ``x``. When the raw scores do not order the hits (a fit that
    would reverse the ranking), every item gets about the base rate, still in the ranker's order."""
    w = np.ones(y.size) if weight is None else weight
    hits, total = float(w[y == 1].sum()), float(w.sum())
    if hits < 5 or hits == total or np.ptp(x) == 0:
        return fallback
    lr = LogisticRegression(C=1e4, max_iter=1000)
    lr.fit(x.reshape(-1, 1), y, sample_weight=w)
    a, b = float(lr.coef_[0][0]), float(lr.intercept_[0])
    if a > 0:
        return Platt(a=a, b=b)
    rate = hits / total
    return Platt(a=1e-3, b=float(np.log(rate / (1 - rate))) - 1e-3 * float(np.average(x, weights=w)))


def calibrate(data: Dataset, parts: Parts, ranker: RankerSpec, shots: Shots) -> Calibration:
    """Maps each scoring path's raw scores to the probability that an item is the user's next
    interaction, fit on the validation items (stage 2 models): the ranker's logit for users with
    history, popularity for cold-start users (every validation user scored as if new)."""
    scorer = Scorer(rec_model(data, parts, ranker))
    cold_sig = scorer.signals(None)
    cold_raw = scorer.score_items(cold_sig, np.arange(len(data.item_ids)))[0]
    cold_x = np.log(np.maximum(cold_raw, 1e-9))
    warm_x: list[np.ndarray] = []
    warm_y: list[np.ndarray] = []
    cold_hits = np.zeros(len(data.item_ids))
    for user, shot in shots.items():
        target = data.seq(user, 1)[-1]
        cold_hits[target] += 1
        sig = scorer.signals(shot["val"])
        if sig.is_cold:
            continue
        cand, raw, _ = scorer.score(sig)
        keep = ~np.isin(cand, list(sig.seen)) if sig.seen else np.ones(cand.size, dtype=bool)
        warm_x.append(raw[keep])
        warm_y.append((cand[keep] == target).astype(np.int8))
    # cold: every item of the catalogue is a candidate for every user, a hit for those whose next item it is
    users = float(len(shots))
    cold_xs = np.concatenate([cold_x, cold_x])
    cold_y = np.concatenate([np.ones(cold_x.size, dtype=np.int8), np.zeros(cold_x.size, dtype=np.int8)])
    cold_w = np.concatenate([cold_hits, users - cold_hits])
    default = Calibration()
    warm = _platt(np.concatenate(warm_x), np.concatenate(warm_y), default.warm) if warm_x else default.warm
    return Calibration(warm=warm, cold=_platt(cold_xs, cold_y, default.cold, cold_w))
