"""Training: choose the item models and the ranker on validation, calibrate, test once, publish files.

- stage 1, on each user's training items minus the last: the learned ranker is fit on the *held-out
  last training item* (positives) against the scorer's own candidates (negatives);
- stage 2, on the training items: hyper-parameters (including how much diversity the page keeps) are
  chosen, and the scores calibrated, on the validation items;
- stage 3, on the training and validation items, with the chosen hyper-parameters: the test items are
  scored once, and so are the baselines (popularity, item-kNN, EASE), fit on the same items.
The published model is refit on all data.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pulse.domain.events import BehaviorEvent
from pulse.domain.profile import UserProfile
from pulse.recommend.artifacts import RecModel, build_manifest, model_files
from pulse.recommend.ranker import RankerSpec
from training import models
from training.dataset import Dataset, Params, build_dataset, half_life_days, snapshots
from training.evaluation import cold_start_choice, evaluate_a
from training.gate import Gate, GateDecision, decide
from training.parts import Parts, fit_parts, rec_model
from training.ranker import calibrate, choose_diversity, fit_ranker, guard_ranker, one_hot
from training.table import EventTable, table_from_events


def baseline_figures(
    data: Dataset, params: Params, parts: Parts, shots: dict[str, dict[str, UserProfile]]
) -> dict[str, dict[str, float]]:
    """Classic models on the same test items, through the served scorer with one feature and no
    diversity rule, fit on the same training + validation items as the served model."""

    def plain(p: Params, feature: str) -> RankerSpec:
        return one_hot(p, feature, diversity_cap=1.0)

    knn = Params(method="knn", neighbors=params.neighbors, recency_decay=1.0, recent_items=50)
    out = {
        "popularity": evaluate_a(data, rec_model(data, parts, plain(params, "log_pop")), shots, "test"),
        "item-knn": evaluate_a(
            data, rec_model(data, fit_parts(data, knn, drop_last=1), plain(knn, "nbr_recent")), shots, "test"
        ),
    }
    if data.dense:
        ease = Params(method="ease", ease_lambda=params.ease_lambda, recency_decay=1.0, recent_items=50)
        ease_parts = parts if params.method == "ease" else fit_parts(data, ease, drop_last=1)
        out["ease"] = evaluate_a(data, rec_model(data, ease_parts, plain(ease, "nbr_recent")), shots, "test")
    return out


@dataclass
class TrainResult:
    files: dict[str, bytes]
    manifest_info: dict[str, Any]
    params: Params
    metrics: dict[str, Any]
    log: list[str]


MIN_USERS = 5  # users with 4+ interactions: the ranker, validation and test each hold one item out


class TrainingInputError(ValueError):
    """The log cannot train a model; the message says why, for the person who gave it."""


def train(
    events: Sequence[BehaviorEvent] | EventTable,
    catalog: dict[str, dict[str, Any]] | None = None,
    grid: Sequence[Params] | None = None,
    eval_users: int | None = None,
    seed: int = 0,
    say: Callable[[str], None] = print,
    gate: Gate | None = None,
    dense_max_items: int = models.EASE_MAX_ITEMS,
) -> TrainResult:
    started = time.perf_counter()
    log: list[str] = []

    def note(text: str) -> None:
        log.append(text)
        say(text)

    data = build_dataset(events if isinstance(events, EventTable) else table_from_events(events), catalog)
    data.dense_max_items = dense_max_items
    note(f"data: {data.n_events} events, {len(data.user_ids)} users, {len(data.item_ids)} items")
    if not data.dense:
        note(f"  {len(data.item_ids)} items: sparse item models (item-kNN, counted transitions)")
    users = sorted(data.user_ids[c] for c in np.flatnonzero(data.counts() >= 4))
    if len(users) < MIN_USERS:
        raise TrainingInputError(
            f"too little to train on: {int(data.counts().sum())} interactions (views, clicks, carts, purchases, "
            f"ratings, likes) from {len(data.user_ids)} users, and {len(users)} users with 4 or more; training "
            f"needs at least {MIN_USERS} such users (each one's last interactions are held out to evaluate)"
        )
    if eval_users is not None and len(users) > eval_users:
        users = sorted(random.Random(seed).sample(users, eval_users))
    shots = snapshots(data, users)
    note(
        f"profiles: {len(shots)} users replayed through the profile updater's code "
        f"({time.perf_counter() - started:.1f} s)"
    )
    grid = list(grid or default_grid(data.dense))
    best: tuple[float, Params, RankerSpec, dict[str, float]] | None = None
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
    ranker = ranker.model_copy(update={"cold_start": "segment" if cold["segment"] > cold["global"] else "global"})
    cap, diversity = choose_diversity(data, stage2, ranker, shots, val)
    ranker = ranker.model_copy(update={"diversity_cap": cap})
    for each, figures in diversity.items():
        note(f"  validation diversity cap {each:<4} HR@10 {figures['hr@10']:.4f}  NDCG@10 {figures['ndcg@10']:.4f}")
    val = diversity[cap]
    ranker = ranker.model_copy(update={"calibration": calibrate(data, stage2, ranker, shots)})
    note(f"  scores calibrated on validation: {ranker.calibration.model_dump()}")
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
    decision = None
    if gate is not None:  # the served version on the same held-out items, then the decision
        decision = gate_decision(data, gate, shots, test, baselines, rec_model(data, stage3, ranker), note)
    final = fit_parts(data, params, drop_last=0)
    files = artefact_files(data, final, ranker)
    metrics = {
        "protocol_a": {"test": test, "validation": val, "baselines": baselines},
        "cold_start_first_event_hr@10": cold,
        "cold_start_served": ranker.cold_start,
        "ranker_served": ranker.kind,
        "diversity_cap": ranker.diversity_cap,
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
        "half_life_days": half_life_days(),
        "metrics": metrics,
        "training_seconds": round(time.perf_counter() - started, 2),
    }
    if decision is not None:
        info["gate"] = decision.as_dict()
    note(f"trained in {info['training_seconds']} s")
    return TrainResult(files, info, params, metrics, log)


def gate_decision(
    data: Dataset,
    gate: Gate,
    shots: dict[str, dict[str, UserProfile]],
    test: dict[str, float],
    baselines: dict[str, dict[str, float]],
    candidate: RecModel,
    note: Callable[[str], None],
) -> GateDecision:
    """The gate's decision. The served version is compared with the candidate only on held-out
    interactions newer than its own training data (``trained_on.to`` in its manifest): on older ones
    it would be scored on what it was fitted on (a leak that made a served model look six times
    better than it is)."""
    if gate.served is None:
        decision = decide(test, baselines, margin=gate.margin)
    else:
        version = gate.served.version
        after = float((gate.served.manifest.get("trained_on") or {}).get("to") or float("-inf"))
        fair = {u: shot for u, shot in shots.items() if data.times[data.ptr[data.user_index[u] + 1] - 1] > after}
        note(f"  held-out interactions newer than the served {version}'s data: {len(fair)} of {len(shots)} users")
        served = mine = None
        if fair:
            served = evaluate_a(data, gate.served, fair, "test")
            mine = test if len(fair) == len(shots) else evaluate_a(data, candidate, fair, "test")
            note(f"  on those: candidate NDCG@10 {mine['ndcg@10']:.4f}, served {served['ndcg@10']:.4f}")
        decision = decide(test, baselines, served, version, gate.margin, candidate_on_served=mine)
    note(f"gate: {'promote' if decision.promote else 'refuse'}: {decision.reason}")
    return decision


def default_grid(dense: bool) -> list[Params]:
    if not dense:
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


def artefact_files(data: Dataset, parts: Parts, ranker: RankerSpec) -> dict[str, bytes]:
    """The model's files in the current format (``pulse.recommend.artifacts.model_files``)."""
    model = rec_model(data, parts, ranker)
    model.available = np.asarray([bool(m.get("available", True)) for m in data.metadata], dtype=bool)
    return model_files(model)


def manifest_for(version: str, result: TrainResult) -> dict[str, Any]:
    return build_manifest(version, result.files, **result.manifest_info)
