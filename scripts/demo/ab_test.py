"""Step 4b: an A/B test through the experiment routes, on the interactions after the replay's.

Three arms, a third of the users each: real-time profiles (the served default), live popularity, and
the served model with profiles frozen at the cut-off. Before each sampled interaction the user's answer
is asked for; when the film the user rates next is in it, a ``click`` carrying the answer's
``recommendation_id`` is sent first, as a shop's front end would. The results come from
``GET /experiments/{id}/results``: what the product itself counted, exactly once.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from pulse.domain.events import BehaviorEvent
from pulse.recommend.artifacts import RecModel
from scripts.demo.session import Session, progress, say
from training.evaluation import replay_targets

EXPERIMENT = "demo-realtime"


def definition(cutoff: float) -> dict[str, Any]:
    return {
        "description": "Real-time profiles against live popularity and profiles frozen at the training cut-off",
        "variants": [
            {"name": "realtime", "weight": 1, "serve": {"strategy": "default"}},
            {"name": "popular", "weight": 1, "serve": {"strategy": "popular"}},
            {"name": "frozen", "weight": 1, "serve": {"strategy": "frozen", "as_of": cutoff}},
        ],
        "control": "popular",
    }


def click(event: BehaviorEvent, rid: str) -> BehaviorEvent:
    return BehaviorEvent.model_validate(
        {
            "event_id": f"ab-click-{event.event_id}",
            "event_type": "click",
            "user_id": event.user_id,
            "timestamp": event.timestamp - 1,
            "item_id": event.item_id,
            "recommendation_id": rid,
        }
    )


def ab_test(d: Session, model: RecModel, history: list[BehaviorEvent], future: list[BehaviorEvent], start: int) -> int:
    """Runs the experiment on ``future[start:]``; returns how many future events have been sent."""
    sample = d.args.ab_sample
    say(
        f"4b. an A/B test on {sample} interactions (at most {d.args.ab_per_user} a user): real-time vs "
        "popularity vs frozen profiles"
    )
    cutoff = max(e.timestamp for e in history)
    answer = d.http.put(f"{d.api}/experiments/{EXPERIMENT}", json=definition(cutoff), timeout=30)
    answer.raise_for_status()
    chosen: list[int] = []
    per_user: Counter[str] = Counter()
    for p in replay_targets(model, future):  # a few interactions of many users: users are what is split
        if p >= start and per_user[future[p].user_id] < d.args.ab_per_user and len(chosen) < sample:
            chosen.append(p)
            per_user[future[p].user_id] += 1
    asked, clicks, started = 0, 0, time.perf_counter()

    def ask(event: BehaviorEvent) -> list[BehaviorEvent]:
        nonlocal asked, clicks
        r = d.http.get(f"{d.api}/users/{event.user_id}/recommendations", params={"k": "10"}, timeout=30)
        r.raise_for_status()
        body = r.json()
        asked += 1
        progress(asked, len(chosen), started, "A/B")
        if event.item_id in {i["item_id"] for i in body["items"]}:
            clicks += 1
            return [click(event, body["recommendation_id"])]
        return []

    sent_up_to = d.replay(future, chosen, ask, start=start)
    for user in {future[p].user_id for p in chosen}:
        d.wait_applied(user)
    results = d.http.get(f"{d.api}/experiments/{EXPERIMENT}/results", timeout=30).json()
    d.figures["ab_test"] = results | {"asked": asked, "hits": clicks, "seconds": round(time.perf_counter() - started)}
    say(f"   {asked} answers, {clicks} hits sent back as clicks; the product's own count:")
    for v in results["variants"]:
        ctr = v["click_through_rate"]
        say(
            f"   {v['name']:9} users {v['users']:4}  exposures {v['exposures']:4}  clicks {v['clicks']:4}  "
            f"CTR {ctr['value']:.3f} [{ctr['low']:.3f}, {ctr['high']:.3f}]"
        )
    say("   " + results["summary"])
    return sent_up_to
