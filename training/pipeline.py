"""Training and honest evaluation, with the served code.

Protocol A (next item): per user, time-ordered; the last interaction is the test item, the second last
the validation item, the rest is training. The item models are fit on data that ends before what
they are judged on:
- stage 1, on each user's training items minus the last: the learned ranker is fit on the *held-out
  last training item* (positives) against the scorer's own candidates (negatives);
- stage 2, on the training items: hyper-parameters (including how much diversity the page keeps) are
  chosen on the validation items;
- stage 3, on the training and validation items, with the chosen hyper-parameters: the test items are
  scored once, and so are the baselines (popularity, item-kNN, EASE), fit on the same items.
Profiles are built by the profile updater's own code (``apply_user_events``), and every ranking comes
from ``pulse.recommend.scorer.Scorer`` (what the API serves). The published model is refit on all data.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from pulse.domain.events import BehaviorEvent
from pulse.domain.profile import UserProfile
from pulse.domain.segments import evaluate as evaluate_segments
from pulse.domain.updater import PositionedEvent, ProfileState, apply_user_events, dump_state, load_state
from pulse.recommend.artifacts import RecModel, build_manifest, npz_bytes
from pulse.recommend.scorer import FEATURES, Scorer
from training import models
from training.table import POSITIVE, EventTable, is_interaction, table_from_events

HALF_LIFE_DAYS = 14.0


@dataclass
class Params:
    method: str = "ease"  # "ease" (whole histories), "slis" (EASE on windows of a history) or "knn"
    ease_lambda: float = 500.0
    neighbors: int = 100
    transition_window: int = 3  # counted transitions (catalogs too large for the regression)
    recency_decay: float = 0.9
    recent_items: int = 20
    transition_items: int = 20  # how many latest items feed the transition feature
    transition_decay: float = 0.9
    slit_lambda: float = 250.0
    trending_half_life_days: float = 7.0

    def label(self) -> str:
        lam = f"λ={self.ease_lambda:g} " if self.method != "knn" else ""
        return f"{self.method} {lam}decay={self.recency_decay} seq={self.transition_items}/{self.transition_decay}"


@dataclass
class Dataset:
    """The items, and every user's interactions as columns grouped by user, in time order."""

    item_ids: list[str]
    index: dict[str, int]
    metadata: list[dict[str, Any]]
    categories: list[list[str]]
    user_ids: list[str]  # the table's user codes
    user_index: dict[str, int]
    row_user: np.ndarray  # int32 user code of each interaction
    items: np.ndarray  # int32 item index of each interaction
    times: np.ndarray  # float64
    ptr: np.ndarray  # int64: user c's interactions are [ptr[c], ptr[c + 1])
    demographic: dict[str, list[str]]  # user -> demographic segments (age bands)
    segment_names: list[str]
    start: float
    end: float
    n_events: int
    table: EventTable
    fits: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    def counts(self) -> np.ndarray:
        return np.diff(self.ptr)

    def seq(self, user: str, drop_last: int = 0) -> list[int]:
        c = self.user_index[user]
        first, last = int(self.ptr[c]), int(self.ptr[c + 1]) - drop_last
        return [int(i) for i in self.items[first : max(first, last)]]

    def kept(self, drop_last: int) -> np.ndarray:
        """Which interactions remain when each user's last ``drop_last`` are held out."""
        position = np.arange(self.items.size) - self.ptr[self.row_user]
        return position < self.counts()[self.row_user] - drop_last

    @cached_property
    def membership(self) -> np.ndarray:
        """(segment, user code) -> is the user in that demographic segment?"""
        out = np.zeros((len(self.segment_names), len(self.user_ids)), dtype=bool)
        rows = {name: r for r, name in enumerate(self.segment_names)}
        for user, segs in self.demographic.items():
            for seg in segs:
                out[rows[seg], self.user_index[user]] = True
        return out


def _demographics(traits: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Age-band segments from users' traits, through the profile's own segment rules."""
    out: dict[str, list[str]] = {}
    memo: dict[str, list[str]] = {}
    for user, values in traits.items():
        if not values:
            continue
        key = json.dumps(values, sort_keys=True, default=str)
        if key not in memo:
            probe = UserProfile.new(user, 0.0, HALF_LIFE_DAYS)
            probe.traits = dict(values)
            memo[key] = [s for s in evaluate_segments(probe) if s.startswith("age_")]
        out[user] = memo[key]
    return out


def build_dataset(table: EventTable, catalog: dict[str, dict[str, Any]] | None = None) -> Dataset:
    meta = dict(table.item_meta)
    for item, info in (catalog or {}).items():
        meta[item] = {**meta.get(item, {}), **info}
    item_ids = sorted(meta)
    index = {item: i for i, item in enumerate(item_ids)}
    categories = []
    for item in item_ids:
        cat = meta[item].get("category")
        categories.append([cat] if isinstance(cat, str) else list(cat or []))
    remap = np.asarray([index[i] for i in table.item_ids] or [0], dtype=np.int32)
    rows = np.flatnonzero(table.positive)
    rows = rows[np.lexsort((table.ref[rows], table.time[rows], table.user[rows]))]
    n_users = len(table.user_ids)
    row_user = table.user[rows]
    ptr = np.zeros(n_users + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(row_user, minlength=n_users))
    demographic = _demographics(table.traits)
    names = sorted({s for segs in demographic.values() for s in segs})
    return Dataset(
        item_ids,
        index,
        [meta[i] for i in item_ids],
        categories,
        list(table.user_ids),
        {u: c for c, u in enumerate(table.user_ids)},
        row_user,
        remap[table.item[rows]],
        table.time[rows],
        ptr,
        demographic,
        names,
        float(table.time.min()) if table.n_events else 0.0,
        float(table.time.max()) if table.n_events else 0.0,
        table.n_events,
        table,
    )


# ---------------------------------------------------------------------------------------------- profiles
def _apply(state: ProfileState | None, user: str, events: Sequence[BehaviorEvent]) -> ProfileState:
    update = apply_user_events(
        state,
        user,
        [PositionedEvent(e) for e in events],
        now=events[-1].timestamp if events else 0.0,
        half_life_days=HALF_LIFE_DAYS,
    )
    return update.state


def snapshots(data: Dataset, users: Sequence[str]) -> dict[str, dict[str, UserProfile]]:
    """Per user, the profile just before the held-out items: ``rank`` (before the last training item),
    ``val`` (before the validation item) and ``test`` (before the test item). The users' events are
    fetched from the log and replayed through the profile updater's code."""
    out: dict[str, dict[str, UserProfile]] = {}
    for user, evs in data.table.events_of(users).items():
        pos = [p for p, e in enumerate(evs) if is_interaction(e)]
        if len(pos) < 4:
            continue
        cuts = {"rank": pos[-3], "val": pos[-2], "test": pos[-1]}
        state: ProfileState | None = None
        done = 0
        shots: dict[str, UserProfile] = {}
        for name in ("rank", "val", "test"):
            if cuts[name] > done:
                state = _apply(state, user, evs[done : cuts[name]])
                done = cuts[name]
            assert state is not None
            shots[name] = load_state(dump_state(state)).profile  # a frozen copy
        out[user] = shots
    return dict(sorted(out.items()))


# ---------------------------------------------------------------------------------------------- model parts
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
    dense = n <= models.EASE_MAX_ITEMS
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


def ranker_dict(
    params: Params,
    coef: Sequence[float],
    intercept: float,
    mean: Sequence[float],
    std: Sequence[float],
    cold_start: str = "global",
) -> dict[str, Any]:
    return {
        "features": list(FEATURES),
        "coef": [float(c) for c in coef],
        "intercept": float(intercept),
        "mean": [float(m) for m in mean],
        "std": [float(s) for s in std],
        "params": {
            "recency_decay": params.recency_decay,
            "recent_items": max(params.recent_items, params.transition_items),
            "transition_decay": params.transition_decay,
            "transition_items": params.transition_items,
        },
        "cold_start": cold_start,
        "diversity_cap": 0.4,
    }


def one_hot_ranker(params: Params, feature: str) -> dict[str, Any]:
    coef = [1.0 if f == feature else 0.0 for f in FEATURES]
    return ranker_dict(params, coef, 0.0, [0.0] * len(FEATURES), [1.0] * len(FEATURES))


def rec_model(data: Dataset, parts: Parts, ranker: dict[str, Any], version: str = "eval") -> RecModel:
    return RecModel(
        version=version,
        item_ids=data.item_ids,
        metadata=data.metadata,
        categories=data.categories,
        available=np.ones(len(data.item_ids), dtype=bool),
        nbr_idx=parts.nbr_idx,
        nbr_w=parts.nbr_w,
        tr_idx=parts.tr_idx,
        tr_w=parts.tr_w,
        pop=parts.pop,
        trending=parts.trending,
        segment_names=data.segment_names,
        segment_pop=parts.segment_pop,
        ranker=ranker,
        manifest={},
    )


def fit_ranker(
    data: Dataset,
    parts: Parts,
    params: Params,
    shots: dict[str, dict[str, UserProfile]],
    seed: int = 0,
    negatives_per_user: int = 300,
) -> dict[str, Any]:
    """Logistic regression on held-out next items (stage 1): which candidate features predict them."""
    rng = random.Random(seed)
    scorer = Scorer(rec_model(data, parts, one_hot_ranker(params, "nbr_recent")))
    rows, labels = [], []
    for user, shot in shots.items():
        target = data.seq(user)[-3]
        sig = scorer.signals(shot["rank"])
        if sig.is_cold:
            continue
        matrix, vectors = scorer.feature_matrix(sig)
        cand = scorer.candidates(sig, vectors)
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
    return ranker_dict(params, lr.coef_[0].tolist(), float(lr.intercept_[0]), mean.tolist(), std.tolist())


# ---------------------------------------------------------------------------------------------- metrics
def hit_ndcg_mrr(ranked: Sequence[str], target: str, k: int = 10) -> tuple[float, float, float]:
    top = list(ranked[:k])
    if target not in top:
        return 0.0, 0.0, 0.0
    rank = top.index(target)
    return 1.0, 1.0 / math.log2(rank + 2), 1.0 / (rank + 1)


def evaluate_a(
    data: Dataset, model: RecModel, shots: dict[str, dict[str, UserProfile]], split: str, k: int = 10
) -> dict[str, float]:
    """HR/NDCG/MRR@k and catalog coverage@k of the served scorer on the ``val`` or ``test`` items."""
    scorer = Scorer(model)
    drop = 1 if split == "val" else 0
    totals = np.zeros(3)
    recommended: set[str] = set()
    for user, shot in shots.items():
        target = data.item_ids[data.seq(user, drop)[-1]]
        items = [r.item_id for r in scorer.recommend(shot[split], k=k)]
        recommended.update(items)
        totals += hit_ndcg_mrr(items, target, k)
    n = max(1, len(shots))
    return {
        "users": len(shots),
        f"hr@{k}": totals[0] / n,
        f"ndcg@{k}": totals[1] / n,
        f"mrr@{k}": totals[2] / n,
        f"coverage@{k}": len(recommended) / max(1, len(data.item_ids)),
    }


def cold_start_choice(data: Dataset, parts: Parts, params: Params) -> dict[str, float]:
    """First event of each user: does their demographic segment's popularity beat global popularity?"""
    hits = {"segment": 0.0, "global": 0.0}
    counts = data.counts()
    global_top = set(np.argsort(-parts.pop, kind="stable")[:10].tolist())
    segment_top: dict[tuple[str, ...], set[int]] = {}
    users = 0
    for user, segs in data.demographic.items():
        code = data.user_index[user]
        if not segs or counts[code] < 4:
            continue
        key = tuple(segs)
        if key not in segment_top:
            rows = [data.segment_names.index(s) for s in segs]
            scores = parts.segment_pop[rows].mean(axis=0)
            segment_top[key] = set(np.argsort(-scores, kind="stable")[:10].tolist())
        first = int(data.items[data.ptr[code]])
        hits["segment"] += float(first in segment_top[key])
        hits["global"] += float(first in global_top)
        users += 1
    return {name: value / max(1, users) for name, value in hits.items()}


def baseline_figures(
    data: Dataset, params: Params, parts: Parts, shots: dict[str, dict[str, UserProfile]]
) -> dict[str, dict[str, float]]:
    """Classic models on the same test items, through the served scorer with one feature and no
    diversity rule, fit on the same training + validation items as the served model."""

    def plain(p: Params, feature: str) -> dict[str, Any]:
        return {**one_hot_ranker(p, feature), "diversity_cap": 1.0}

    knn = Params(method="knn", neighbors=params.neighbors, recency_decay=1.0, recent_items=50)
    out = {
        "popularity": evaluate_a(data, rec_model(data, parts, plain(params, "log_pop")), shots, "test"),
        "item-knn": evaluate_a(
            data, rec_model(data, fit_parts(data, knn, drop_last=1), plain(knn, "nbr_recent")), shots, "test"
        ),
    }
    if len(data.item_ids) <= models.EASE_MAX_ITEMS:
        ease = Params(method="ease", ease_lambda=params.ease_lambda, recency_decay=1.0, recent_items=50)
        ease_parts = parts if params.method == "ease" else fit_parts(data, ease, drop_last=1)
        out["ease"] = evaluate_a(data, rec_model(data, ease_parts, plain(ease, "nbr_recent")), shots, "test")
    return out


SINGLE_FEATURES = ("nbr_recent", "nbr_history", "transition")


def guard_ranker(
    data: Dataset,
    parts: Parts,
    params: Params,
    learned: dict[str, Any],
    shots: dict[str, dict[str, UserProfile]],
    measured: dict[str, float],
    note: Callable[[str], None],
) -> tuple[dict[str, Any], dict[str, float]]:
    """Serve the learned ranker only if it beats each of its strongest single features on validation.
    A linear model fit on sampled negatives can lose to one of its own inputs (measured on the
    synthetic log, where plain item-to-item scoring over the whole history wins); then that feature
    alone is served, and the manifest says so."""
    best_name, best, best_val = "learned", learned, measured
    for feature in SINGLE_FEATURES:
        single = {**one_hot_ranker(params, feature), "diversity_cap": learned["diversity_cap"]}
        val = evaluate_a(data, rec_model(data, parts, single), shots, "val")
        note(f"  validation single feature {feature:14} HR@10 {val['hr@10']:.4f}  NDCG@10 {val['ndcg@10']:.4f}")
        if val["ndcg@10"] > best_val["ndcg@10"]:
            best_name, best, best_val = feature, single, val
    best = {**best, "kind": "learned" if best_name == "learned" else f"single feature: {best_name}"}
    note(f"  ranker served: {best['kind']}")
    return best, best_val


DIVERSITY_CAPS = (0.4, 0.6, 1.0)  # most diverse first
DIVERSITY_TOLERANCE = 0.02


def choose_diversity(
    data: Dataset,
    parts: Parts,
    ranker: dict[str, Any],
    shots: dict[str, dict[str, UserProfile]],
    measured: dict[str, float],
) -> tuple[float, dict[float, dict[str, float]]]:
    """The most diverse page whose validation NDCG@10 is within 2 % of the best cap's: diversity is
    worth a little accuracy, not any amount of it. Returns the cap and the figures of every cap."""
    figures = {}
    for cap in DIVERSITY_CAPS:
        if cap == ranker["diversity_cap"]:
            figures[cap] = measured
        else:
            figures[cap] = evaluate_a(data, rec_model(data, parts, {**ranker, "diversity_cap": cap}), shots, "val")
    best = max(f["ndcg@10"] for f in figures.values())
    chosen = next(cap for cap in DIVERSITY_CAPS if figures[cap]["ndcg@10"] >= (1 - DIVERSITY_TOLERANCE) * best)
    return chosen, figures


# ---------------------------------------------------------------------------------------------- training
@dataclass
class TrainResult:
    files: dict[str, bytes]
    manifest_info: dict[str, Any]
    params: Params
    metrics: dict[str, Any]
    log: list[str]


def train(
    events: Sequence[BehaviorEvent] | EventTable,
    catalog: dict[str, dict[str, Any]] | None = None,
    grid: Sequence[Params] | None = None,
    eval_users: int | None = None,
    seed: int = 0,
    say: Callable[[str], None] = print,
) -> TrainResult:
    started = time.perf_counter()
    log: list[str] = []

    def note(text: str) -> None:
        log.append(text)
        say(text)

    data = build_dataset(events if isinstance(events, EventTable) else table_from_events(events), catalog)
    note(f"data: {data.n_events} events, {len(data.user_ids)} users, {len(data.item_ids)} items")
    users = sorted(data.user_ids[c] for c in np.flatnonzero(data.counts() >= 4))
    if eval_users is not None and len(users) > eval_users:
        users = sorted(random.Random(seed).sample(users, eval_users))
    shots = snapshots(data, users)
    note(
        f"profiles: {len(shots)} users replayed through the profile updater's code "
        f"({time.perf_counter() - started:.1f} s)"
    )
    grid = list(grid or default_grid(len(data.item_ids)))
    best: tuple[float, Params, dict[str, Any], dict[str, float]] | None = None
    for params in grid:  # the item models come from the run's cache when grid points share them
        stage1, stage2 = fit_parts(data, params, drop_last=3), fit_parts(data, params, drop_last=2)
        ranker = fit_ranker(data, stage1, params, shots, seed)
        val = evaluate_a(data, rec_model(data, stage2, ranker), shots, "val")
        note(f"  validation {params.label():28} HR@10 {val['hr@10']:.4f}  NDCG@10 {val['ndcg@10']:.4f}")
        if best is None or val["ndcg@10"] > best[0]:
            best = (val["ndcg@10"], params, ranker, val)
    assert best is not None
    _, params, ranker, val = best
    stage2 = fit_parts(data, params, drop_last=2)
    ranker, val = guard_ranker(data, stage2, params, ranker, shots, val, note)
    cold = cold_start_choice(data, stage2, params)
    ranker["cold_start"] = "segment" if cold["segment"] > cold["global"] else "global"
    ranker["diversity_cap"], diversity = choose_diversity(data, stage2, ranker, shots, val)
    for cap, figures in diversity.items():
        note(f"  validation diversity cap {cap:<4} HR@10 {figures['hr@10']:.4f}  NDCG@10 {figures['ndcg@10']:.4f}")
    val = diversity[ranker["diversity_cap"]]
    # hyper-parameters fixed: refit on training + validation items, then touch the test items once
    stage3 = fit_parts(data, params, drop_last=1)
    test = evaluate_a(data, rec_model(data, stage3, ranker), shots, "test")
    note(
        f"chosen: {params.label()}; test HR@10 {test['hr@10']:.4f} NDCG@10 {test['ndcg@10']:.4f} "
        f"MRR@10 {test['mrr@10']:.4f} coverage@10 {test['coverage@10']:.4f}"
    )
    baselines = baseline_figures(data, params, stage3, shots)
    for name, figures in baselines.items():
        note(f"  baseline {name:12} HR@10 {figures['hr@10']:.4f} NDCG@10 {figures['ndcg@10']:.4f}")
    final = fit_parts(data, params, drop_last=0)
    files = artefact_files(data, final, ranker)
    metrics = {
        "protocol_a": {"test": test, "validation": val, "baselines": baselines},
        "cold_start_first_event_hr@10": cold,
        "cold_start_served": ranker["cold_start"],
        "ranker_served": ranker["kind"],
        "diversity_cap": ranker["diversity_cap"],
    }
    info = {
        "trained_on": {
            "events": data.n_events,
            "users": len(data.user_ids),
            "items": len(data.item_ids),
            "from": data.start,
            "to": data.end,
            "evaluated_users": len(shots),
        },
        "params": params.__dict__,
        "metrics": metrics,
        "training_seconds": round(time.perf_counter() - started, 2),
    }
    note(f"trained in {info['training_seconds']} s")
    return TrainResult(files, info, params, metrics, log)


def default_grid(n_items: int) -> list[Params]:
    if n_items > models.EASE_MAX_ITEMS:
        # counted transitions (no regression): the short, steep window they were tuned with
        # 1.0: the whole recent window weighs the same (what classic item-kNN does)
        return [
            Params(method="knn", recency_decay=d, transition_items=5, transition_decay=0.6) for d in (0.8, 0.9, 1.0)
        ]
    # (neighbours, λ, recency decay of the recent items, latest items feeding transitions, their decay)
    points = [
        ("ease", 300.0, 0.9, 30, 0.95),
        ("slis", 300.0, 0.9, 20, 0.9),
        ("slis", 300.0, 0.9, 30, 0.95),
        ("slis", 300.0, 0.8, 30, 0.95),
        ("slis", 100.0, 0.8, 30, 0.95),
    ]
    return [
        Params(method=m, ease_lambda=lam, recency_decay=rd, transition_items=k, transition_decay=d)
        for m, lam, rd, k, d in points
    ] + [Params(method="knn")]


def artefact_files(data: Dataset, parts: Parts, ranker: dict[str, Any]) -> dict[str, bytes]:
    catalog = {
        "item_ids": data.item_ids,
        "metadata": data.metadata,
        "categories": data.categories,
        "available": [bool(m.get("available", True)) for m in data.metadata],
        "segments": data.segment_names,
    }
    return {
        "catalog.json": json.dumps(catalog, separators=(",", ":")).encode(),
        "ranker.json": json.dumps(ranker, indent=1).encode(),
        "neighbors.npz": npz_bytes(idx=parts.nbr_idx, w=parts.nbr_w),
        "transitions.npz": npz_bytes(idx=parts.tr_idx, w=parts.tr_w),
        "popularity.npz": npz_bytes(**{"global": parts.pop, "trending": parts.trending, "segments": parts.segment_pop}),
    }


def manifest_for(version: str, result: TrainResult) -> dict[str, Any]:
    return build_manifest(version, result.files, **result.manifest_info)


# ---------------------------------------------------------------------------------------------- protocol B
@dataclass
class ReplayTally:
    events: int = 0
    hits: float = 0.0
    ndcg: float = 0.0

    def add(self, items: Sequence[str], target: str) -> None:
        hit, gain, _ = hit_ndcg_mrr(items, target)
        self.events += 1
        self.hits += hit
        self.ndcg += gain

    def figures(self) -> dict[str, float]:
        n = max(1, self.events)
        return {"events": self.events, "hr@10": self.hits / n, "ndcg@10": self.ndcg / n}


def split_by_time(
    events: Sequence[BehaviorEvent], train_share: float = 0.8
) -> tuple[list[BehaviorEvent], list[BehaviorEvent]]:
    ordered = sorted(events, key=lambda e: e.timestamp)
    cut = int(len(ordered) * train_share)
    return ordered[:cut], ordered[cut:]


def warm_users(history: Sequence[BehaviorEvent]) -> set[str]:
    """Users with at least one interaction before the cut-off."""
    return {e.user_id for e in history if e.event_type in POSITIVE}


def replay_targets(model: RecModel, future: Sequence[BehaviorEvent]) -> list[int]:
    """Positions in ``future`` of the interactions a replay asks about (items the model knows)."""
    return [i for i, e in enumerate(future) if e.event_type in POSITIVE and e.item_id in model.index]


def protocol_b(
    model: RecModel,
    history: Sequence[BehaviorEvent],
    future: Sequence[BehaviorEvent],
    sample: int | None = None,
    seed: int = 0,
    positions: set[int] | None = None,
) -> dict[str, Any]:
    """Streaming evaluation: replay ``future`` in time order; before each interaction ask for the user's
    top 10, then apply the event to the profile with the updater's code. Real-time profiles are compared
    with profiles frozen at the cut-off and with global popularity, for warm and cold users. All three
    leave out the items the user has interacted with so far, so they differ only in how they rank and
    the comparison measures the profile's signals, not the filter of items already rated."""
    scorer = Scorer(model)
    states: dict[str, ProfileState] = {}
    by_user: dict[str, list[BehaviorEvent]] = defaultdict(list)
    for e in history:
        by_user[e.user_id].append(e)
    for user, evs in by_user.items():
        states[user] = _apply(None, user, evs)
    frozen = {u: load_state(dump_state(s)).profile for u, s in states.items()}
    warm = warm_users(history)
    popular = [model.item_ids[i] for i in np.argsort(-model.pop, kind="stable")[:200]]
    targets = replay_targets(model, future)
    if positions is not None:  # the caller chose which future events are asked about
        chosen = positions
    elif sample is None or sample >= len(targets):
        chosen = set(targets)
    else:
        chosen = set(random.Random(seed).sample(targets, sample))
    tallies = {
        f"{mode}/{group}": ReplayTally()
        for mode in ("realtime", "frozen", "popularity")
        for group in ("all", "warm", "cold")
    }
    for position, event in enumerate(future):
        user = event.user_id
        if position in chosen:
            group = "warm" if user in warm else "cold"
            live = states[user].profile if user in states else None
            seen = set(live.behavior.interacted) if live else set()
            answers = {
                "realtime": [r.item_id for r in scorer.recommend(live, k=10)],
                "frozen": [r.item_id for r in scorer.recommend(frozen.get(user), k=10, exclude=seen)],
                "popularity": [i for i in popular if i not in seen][:10],
            }
            for mode, items in answers.items():
                for g in ("all", group):
                    tallies[f"{mode}/{g}"].add(items, event.item_id or "")
        states[user] = _apply(states.get(user), user, [event])
    return {name: tally.figures() for name, tally in tallies.items()}
