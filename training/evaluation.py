"""Honest evaluation with the served code.

Protocol A (next item): per user, time-ordered; the last interaction is the test item, the second last
the validation item, the rest is training (see ``training.train`` for the stages). Protocol B
(streaming): the first 80 % of the log by time trains, the rest is replayed in time order through the
updater's code, asking for the user's top 10 before each interaction. Every ranking comes from
``pulse.recommend.scorer.Scorer``, what the API serves.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pulse.domain.events import BehaviorEvent
from pulse.domain.profile import UserProfile
from pulse.domain.updater import ProfileState, dump_state, load_state
from pulse.recommend.artifacts import RecModel
from pulse.recommend.scorer import Scorer
from training.dataset import Dataset, Params, apply_events
from training.parts import Parts
from training.table import POSITIVE


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
        states[user] = apply_events(None, user, evs)
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
        states[user] = apply_events(states.get(user), user, [event])
    return {name: tally.figures() for name, tally in tallies.items()}
