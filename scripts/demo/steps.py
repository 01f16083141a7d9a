"""Steps 1-4: the data, training, the history through Kinesis, and the replay through the live API."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from typing import Any

from pulse.domain.events import BehaviorEvent
from pulse.recommend.artifacts import load_model
from scripts.demo.session import Session, progress, say
from training.evaluation import ReplayTally, protocol_b, replay_targets, split_by_time, warm_users
from training.eventlog import read_events
from training.movielens import event_log
from training.publish import promote, publish
from training.train import manifest_for, train


def load(d: Session) -> tuple[list[BehaviorEvent], list[BehaviorEvent]]:
    say("1. MovieLens-100K: fetch (cached, SHA-256 verified) and convert to events")
    events, _ = read_events(str(event_log()))
    if d.args.max_users:
        users = sorted({e.user_id for e in events}, key=int)[: d.args.max_users]
        keep = set(users)
        events = [e for e in events if e.user_id in keep]
    history, future = split_by_time(events)
    say(
        f"   {len(events):,} events, {len({e.user_id for e in events})} users; "
        f"history {len(history):,} / future {len(future):,}"
    )
    return history, future


def train_and_promote(d: Session, history: list[BehaviorEvent]) -> Any:
    say("2. local stack up; training on the first 80 % by time")
    result = train(history, say=lambda s: say("   " + s))
    version = "demo-" + time.strftime("%Y%m%dT%H%M%S")
    manifest = manifest_for(version, result)
    s3, bucket = d.stack.client("s3"), d.stack.outputs()["ModelBucketName"]
    publish(s3, bucket, version, result.files, manifest)
    promote(s3, bucket, version, force=True)
    say(f"   published and promoted {version}")
    return load_model(version, json.dumps(manifest).encode(), result.files)


def stream_history(d: Session, history: list[BehaviorEvent]) -> None:
    say("3. streaming the history through Kinesis (PutRecords) while the updater builds profiles")
    started = time.perf_counter()
    rate = d.args.rate
    for start in range(0, len(history), 500):
        chunk = history[start : start + 500]
        d.put(chunk)
        progress(start + len(chunk), len(history), started, "put")
        if rate:
            time.sleep(max(0.0, (start + len(chunk)) / rate - (time.perf_counter() - started)))
    users = list(d.sent)
    waited = time.perf_counter()
    last = max(users, key=lambda u: d.sent[u])
    for i, user in enumerate(users):
        d.wait_applied(user, timeout=900)
        progress(i + 1, len(users), waited, "profiles")
    expected: dict[str, Counter[str]] = defaultdict(Counter)
    for e in history:
        expected[e.user_id][e.event_type] += 1
    mismatches = [u for u in users if (d.profile(u) or {}).get("behavior", {}).get("counts") != expected[u]]
    d.figures["profiles"] = {"users": len(users), "events": len(history), "mismatches": len(mismatches)}
    say(f"   profiles checked against what was sent: {len(users) - len(mismatches)}/{len(users)} exact")
    say(
        f"   {len(history):,} events applied to {len(users)} profiles in {time.perf_counter() - started:.1f} s "
        f"(busiest user {last}: {d.sent[last]} events)"
    )


def replay(d: Session, model: Any, history: list[BehaviorEvent], future: list[BehaviorEvent]) -> int:
    """Asks the live API before each sampled interaction; returns how many future events it sent."""
    sample = d.args.sample
    say(
        f"4. replaying the remaining 20 % in time order through the live API, asking before each of the "
        f"first {sample} interactions"
    )
    targets = replay_targets(model, future)
    # the first N interactions after the cut-off, every earlier event sent before each request: the
    # updater must keep up event by event, which is the point (a random sample would mostly time the
    # local stack draining the events in between)
    chosen = set(targets[:sample])
    warm = warm_users(history)
    tallies = {g: ReplayTally() for g in ("all", "warm", "cold")}
    started = time.perf_counter()

    def ask(event: BehaviorEvent) -> list[BehaviorEvent]:
        items = [i["item_id"] for i in d.top10(event.user_id)]
        group = "warm" if event.user_id in warm else "cold"
        for g in ("all", group):
            tallies[g].add(items, event.item_id or "")
        progress(tallies["all"].events, len(chosen), started, "replay")
        return []

    replayed = d.replay(future, chosen, ask)
    offline = protocol_b(model, history, future, positions=chosen)
    live = {f"live/{g}": t.figures() for g, t in tallies.items()}
    d.figures["replay"] = live | offline
    say("   HR@10 / NDCG@10 (same sampled events)")
    rows = [("real-time profiles, live API", live["live/all"], live["live/warm"], live["live/cold"])]
    for mode in ("realtime", "frozen", "popularity"):
        label = {
            "realtime": "real-time profiles, in-process",
            "frozen": "profiles frozen at the cut-off",
            "popularity": "popularity",
        }[mode]
        rows.append((label, offline[f"{mode}/all"], offline[f"{mode}/warm"], offline[f"{mode}/cold"]))
    for label, a, w, c in rows:
        say(f"   {label:34} all {a['hr@10']:.3f} / {a['ndcg@10']:.3f}   warm {w['hr@10']:.3f}   cold {c['hr@10']:.3f}")
    return replayed
