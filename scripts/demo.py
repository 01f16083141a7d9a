"""``make demo``: the whole product on real data (MovieLens-100K), on the local stack, in a few minutes.

1. fetch and cache MovieLens-100K, convert it to behaviour events;
2. start the local stack, train on the first 80 % of the history by time, publish and promote;
3. stream that history through Kinesis (PutRecords, partition key = user) while the updater builds profiles;
4. replay a sample of the remaining 20 % in time order through the live API (ask for the user's top 10,
   then send the event) and report HR/NDCG@10 next to frozen profiles and popularity (same events);
5. show a user's profile and recommendations with reasons, send a burst in a genre they never watched,
   and measure PutRecords-to-changed-answer freshness over many trials;
6. show a marketing audience and a risk-flagged user from a scripted bot burst;
7. write a Markdown report with PNG charts (``reports/demo/``). ``--serve`` keeps the stack running.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import requests

from infrastructure.local_stack import LocalStack, LocalStackConfig
from infrastructure.template import ROOT
from pulse.domain.events import BehaviorEvent
from pulse.recommend.artifacts import load_model
from training.eventlog import read_events
from training.movielens import event_log
from training.pipeline import ReplayTally, manifest_for, protocol_b, replay_targets, split_by_time, train, warm_users
from training.publish import promote, publish

OUT = ROOT / "reports" / "demo"


def say(text: str = "") -> None:
    print(text, flush=True)


def progress(done: int, total: int, started: float, label: str) -> None:
    width = 30
    filled = int(width * done / max(1, total))
    rate = done / max(1e-9, time.perf_counter() - started)
    sys.stdout.write(f"\r  {label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({rate:,.0f}/s)")
    sys.stdout.flush()
    if done >= total:  # one line per step; \r keeps the bar in place on a terminal
        sys.stdout.write("\n")


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        OUT.mkdir(parents=True, exist_ok=True)
        self.stack = LocalStack(
            LocalStackConfig(
                aws_port=args.aws_port,
                api_port=args.api_port,
                poll_interval=args.poll_interval,
                function_log=OUT / "functions.log",
                # bigger batches: fewer profile writes per event while the history streams in
                parameters={"UpdaterBatchSize": "10000"},
                # the demo replays 1997-98 at its own clock; the segment refresher evaluates at today's,
                # where every 1998 fan has long faded and no account is new: it stays off here
                fire_schedules=False,
            )
        )
        self.http = requests.Session()
        self.sent: Counter[str] = Counter()  # events sent per user
        self.figures: dict[str, Any] = {}

    # ------------------------------------------------------------------------------------------ plumbing
    @property
    def api(self) -> str:
        return self.stack.api_url

    def put(self, events: list[BehaviorEvent]) -> float:
        """PutRecords in batches of 500 (partition key = user); returns when Kinesis accepted them."""
        kinesis = self.stack.client("kinesis")
        stream = self.stack.outputs()["EventStreamName"]
        for start in range(0, len(events), 500):
            chunk = events[start : start + 500]
            records = [{"Data": e.to_json().encode(), "PartitionKey": e.user_id} for e in chunk]
            while records:
                answer = kinesis.put_records(StreamName=stream, Records=records)
                records = [r for r, res in zip(records, answer["Records"], strict=True) if "ErrorCode" in res]
            for e in chunk:
                self.sent[e.user_id] += 1
        return time.perf_counter()

    def profile(self, user: str) -> dict[str, Any] | None:
        r = self.http.get(f"{self.api}/users/{user}/profile", timeout=30)
        return r.json() if r.status_code == 200 else None

    def applied(self, user: str) -> bool:
        found = self.profile(user)
        return found is not None and found["behavior"]["total_events"] >= self.sent[user]

    def wait_applied(self, user: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.applied(user):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{user}'s events were not applied within {timeout} s")
            time.sleep(0.02)

    def top10(self, user: str, explain: bool = False) -> list[dict[str, Any]]:
        r = self.http.get(
            f"{self.api}/users/{user}/recommendations", params={"k": "10", "explain": str(explain).lower()}, timeout=30
        )
        r.raise_for_status()
        return list(r.json()["items"])

    # ------------------------------------------------------------------------------------------ steps
    def load(self) -> tuple[list[BehaviorEvent], list[BehaviorEvent]]:
        say("1. MovieLens-100K: fetch (cached, SHA-256 verified) and convert to events")
        events, _ = read_events(str(event_log()))
        if self.args.max_users:
            users = sorted({e.user_id for e in events}, key=int)[: self.args.max_users]
            keep = set(users)
            events = [e for e in events if e.user_id in keep]
        history, future = split_by_time(events)
        say(
            f"   {len(events):,} events, {len({e.user_id for e in events})} users; "
            f"history {len(history):,} / future {len(future):,}"
        )
        return history, future

    def train_and_promote(self, history: list[BehaviorEvent]) -> Any:
        say("2. local stack up; training on the first 80 % by time")
        result = train(history, say=lambda s: say("   " + s))
        version = "demo-" + time.strftime("%Y%m%dT%H%M%S")
        manifest = manifest_for(version, result)
        s3, bucket = self.stack.client("s3"), self.stack.outputs()["ModelBucketName"]
        publish(s3, bucket, version, result.files, manifest)
        promote(s3, bucket, version, force=True)
        say(f"   published and promoted {version}")
        return load_model(version, json.dumps(manifest).encode(), result.files)

    def stream_history(self, history: list[BehaviorEvent]) -> None:
        say("3. streaming the history through Kinesis (PutRecords) while the updater builds profiles")
        started = time.perf_counter()
        rate = self.args.rate
        for start in range(0, len(history), 500):
            chunk = history[start : start + 500]
            self.put(chunk)
            progress(start + len(chunk), len(history), started, "put")
            if rate:
                time.sleep(max(0.0, (start + len(chunk)) / rate - (time.perf_counter() - started)))
        users = list(self.sent)
        waited = time.perf_counter()
        last = max(users, key=lambda u: self.sent[u])
        for i, user in enumerate(users):
            self.wait_applied(user, timeout=900)
            progress(i + 1, len(users), waited, "profiles")
        expected: dict[str, Counter[str]] = defaultdict(Counter)
        for e in history:
            expected[e.user_id][e.event_type] += 1
        mismatches = [u for u in users if (self.profile(u) or {}).get("behavior", {}).get("counts") != expected[u]]
        self.figures["profiles"] = {"users": len(users), "events": len(history), "mismatches": len(mismatches)}
        say(f"   profiles checked against what was sent: {len(users) - len(mismatches)}/{len(users)} exact")
        say(
            f"   {len(history):,} events applied to {len(users)} profiles in {time.perf_counter() - started:.1f} s "
            f"(busiest user {last}: {self.sent[last]} events)"
        )

    def replay(self, model: Any, history: list[BehaviorEvent], future: list[BehaviorEvent]) -> None:
        sample = self.args.sample
        say(
            f"4. replaying the remaining 20 % in time order through the live API, asking before each of the "
            f"first {sample} interactions"
        )
        targets = replay_targets(model, future)
        # the first N interactions after the cut-off, every earlier event sent before each request: the
        # updater must keep up event by event, which is the point (a random sample would mostly time the
        # local stack draining the events in between)
        chosen = set(targets[:sample])
        last_chosen = max(chosen) if chosen else -1
        warm = warm_users(history)
        tallies = {g: ReplayTally() for g in ("all", "warm", "cold")}
        pending: list[BehaviorEvent] = []
        started = time.perf_counter()
        for position, event in enumerate(future[: last_chosen + 1]):
            if position in chosen:
                if pending:
                    self.put(pending)
                    pending = []
                if self.sent[event.user_id]:
                    self.wait_applied(event.user_id)
                items = [i["item_id"] for i in self.top10(event.user_id)]
                group = "warm" if event.user_id in warm else "cold"
                for g in ("all", group):
                    tallies[g].add(items, event.item_id or "")
                progress(tallies["all"].events, len(chosen), started, "replay")
            pending.append(event)
        if pending:
            self.put(pending)
        offline = protocol_b(model, history, future, positions=chosen)
        live = {f"live/{g}": t.figures() for g, t in tallies.items()}
        self.figures["replay"] = live | offline
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
            say(
                f"   {label:34} all {a['hr@10']:.3f} / {a['ndcg@10']:.3f}   warm {w['hr@10']:.3f}   "
                f"cold {c['hr@10']:.3f}"
            )

    def pick_showcase(self, model: Any, history: list[BehaviorEvent]) -> tuple[str, str]:
        """An active user and a popular genre they never watched (so the burst is plainly new to them)."""
        watched: dict[str, set[str]] = defaultdict(set)
        for e in history:
            if e.item_id in model.index:
                watched[e.user_id].update(model.categories[model.index[e.item_id]])
        genres = [g for g, _ in Counter(c for cats in model.categories for c in cats).most_common() if g != "unknown"]
        active = sorted((u for u in self.sent if 20 <= self.sent[u] <= 300), key=lambda u: -self.sent[u])
        # broad genres (Drama, Comedy, Action) are everywhere; a distinct genre shows the shift best
        for genre in genres[3:15]:
            for user in active:
                if genre not in watched[user]:
                    return user, genre
        user = active[0] if active else next(iter(self.sent))
        return user, next((g for g in reversed(genres) if g not in watched[user]), genres[-1])

    def showcase(self, model: Any, history: list[BehaviorEvent]) -> None:
        say("5. a user, their profile and recommendations; then a burst in a genre they never watched")
        user, genre = self.pick_showcase(model, history)
        self.wait_applied(user)
        profile = self.profile(user) or {}
        before = self.top10(user, explain=True)
        say(f"   user {user}: traits {profile.get('traits')}")
        say(f"   top genres {list(profile['preferences']['categories'].items())[:5]}")
        say(f"   segments {profile['segments']}   risk {profile['risk']}")
        for item in before[:5]:
            say(
                f"   - {item['metadata'].get('title')} ({', '.join(item['metadata'].get('category', []))}): "
                f"{'; '.join(item.get('reasons', []))}"
            )
        seen = {x["item_id"] for x in profile["behavior"]["recent_interactions"]}
        pool = sorted(  # films of that genre first, not multi-genre films that merely carry the tag
            (i for i in np.argsort(-model.pop)[:400] if genre in model.categories[i] and model.item_ids[i] not in seen),
            key=lambda i: (len(model.categories[i]), -float(model.pop[i])),
        )[:8]
        now = time.time()
        burst = [
            BehaviorEvent.model_validate(
                {
                    "event_id": f"burst-{user}-{n}",
                    "event_type": "rate",
                    "user_id": user,
                    "timestamp": now + n,
                    "item_id": model.item_ids[i],
                    "value": 5,
                    "item": {"category": model.categories[i]},
                },
                context={"now": now + 60},
            )
            for n, i in enumerate(pool)
        ]
        sent_at = self.put(burst)
        after = before
        while [i["item_id"] for i in after] == [i["item_id"] for i in before] and time.perf_counter() - sent_at < 30:
            after = self.top10(user, explain=True)
        took = time.perf_counter() - sent_at
        self.wait_applied(user)
        after = self.top10(user, explain=True)
        in_genre = sum(genre in i["metadata"].get("category", []) for i in after)
        say(
            f"   burst of {len(burst)} five-star {genre} ratings: answer changed {took * 1000:.0f} ms after "
            f"PutRecords; {genre} now fills {in_genre}/10 (before: "
            f"{sum(genre in i['metadata'].get('category', []) for i in before)}/10)"
        )
        new_items = len({i["item_id"] for i in after} - {i["item_id"] for i in before})
        burst_titles = {model.metadata[i].get("title") for i in pool}
        cited = sum(any(t and t in r for t in burst_titles for r in i.get("reasons", [])) for i in after)
        say(f"   {new_items}/10 items are new; {cited}/10 are explained by the burst")
        for item in after[:5]:
            say(
                f"   + {item['metadata'].get('title')} ({', '.join(item['metadata'].get('category', []))}): "
                f"{'; '.join(item.get('reasons', []))}"
            )
        self.figures["showcase"] = {
            "user": user,
            "genre": genre,
            "changed_after_ms": round(took * 1000, 1),
            "before": [i["item_id"] for i in before],
            "after": [i["item_id"] for i in after],
            "genre_share_before": sum(genre in i["metadata"].get("category", []) for i in before),
            "genre_share_after": in_genre,
            "affinities": (self.profile(user) or {}).get("preferences", {}).get("categories", {}),
        }
        self.freshness(model)

    def freshness(self, model: Any) -> None:
        trials = self.args.trials
        users = [u for u in self.sent if self.sent[u] >= 5]
        rng = random.Random(self.args.seed)
        samples = []
        for n in range(trials):
            user = rng.choice(users)
            self.wait_applied(user)
            top = self.top10(user)
            target = top[0]["item_id"]  # rating the current #1 must change the answer (seen items are left out)
            event = BehaviorEvent.model_validate(
                {
                    "event_id": f"fresh-{n}-{user}",
                    "event_type": "rate",
                    "user_id": user,
                    "timestamp": time.time(),
                    "item_id": target,
                    "value": 4,
                },
                context={"now": time.time() + 60},
            )
            sent_at = self.put([event])
            while self.top10(user)[0]["item_id"] == target:
                if time.perf_counter() - sent_at > 30:
                    break
                time.sleep(0.005)
            samples.append(time.perf_counter() - sent_at)
        p50, p95 = np.percentile(samples, [50, 95])
        self.figures["freshness_seconds"] = {
            "trials": trials,
            "p50": round(float(p50), 3),
            "p95": round(float(p95), 3),
            "samples": [round(s, 3) for s in samples],
        }
        say(
            f"   freshness over {trials} trials (PutRecords accepted -> changed answer): p50 {p50 * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms (local poll interval {self.args.poll_interval} s)"
        )

    def audiences(self) -> None:
        say("6. marketing audiences and risk control")
        segments = self.http.get(f"{self.api}/segments", timeout=30).json()
        biggest = max(segments["segments"], key=lambda s: s["members"] if s["marketing"] else -1)
        page = self.http.get(f"{self.api}/segments/{biggest['name']}/users", params={"limit": 5}, timeout=30).json()
        say(
            f"   {biggest['name']} ({biggest['description']}): {biggest['members']} members; first page "
            f"{[u['user_id'] for u in page['users']]} next_cursor={'yes' if page['next_cursor'] else 'no'}"
        )
        fans = sorted((f for fam in segments["families"] for f in fam["segments"]), key=lambda s: -s["members"])[:3]
        say(f"   largest generated segments: {[(f['name'], f['members']) for f in fans]}")
        now = time.time()
        bot = [
            BehaviorEvent.model_validate(
                {
                    "event_id": f"bot-{n}",
                    "event_type": "ad_click",
                    "user_id": "bot-7",
                    "timestamp": now - 30 + n * 0.2,
                    "item_id": f"{1 + n % 50}",
                    "campaign_id": "spring",
                },
                context={"now": now + 60},
            )
            for n in range(150)
        ]
        self.put(bot)
        self.wait_applied("bot-7")
        risk = (self.profile("bot-7") or {})["risk"]
        flagged = self.http.get(f"{self.api}/segments/risk_flagged/users", timeout=30).json()
        say(
            f"   bot-7 after 150 ad clicks in 30 s: risk {risk}; in risk_flagged: "
            f"{'bot-7' in [u['user_id'] for u in flagged['users']]}"
        )
        self.figures["audience"] = {"segment": biggest["name"], "members": biggest["members"], "bot_risk": risk}

    def report(self) -> Path:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "demo.json").write_text(json.dumps(self.figures, indent=1))
        charts = []
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            r = self.figures["replay"]
            names = ["live API", "in-process", "frozen", "popularity"]
            keys = ["live/all", "realtime/all", "frozen/all", "popularity/all"]
            fig, ax = plt.subplots(figsize=(6, 3))
            ax.bar(names, [r[k]["hr@10"] for k in keys], color=["#1f77b4", "#6baed6", "#aaaaaa", "#cccccc"])
            ax.set_ylabel("HR@10")
            ax.set_title("Replay of the last 20 %: hit rate by model")
            fig.tight_layout()
            fig.savefig(OUT / "hit_rate.png", dpi=110)
            plt.close(fig)
            fig, ax = plt.subplots(figsize=(6, 3))
            ax.hist([s * 1000 for s in self.figures["freshness_seconds"]["samples"]], bins=20, color="#1f77b4")
            ax.set_xlabel("PutRecords accepted -> changed answer (ms)")
            ax.set_ylabel("trials")
            fig.tight_layout()
            fig.savefig(OUT / "freshness.png", dpi=110)
            plt.close(fig)
            aff = self.figures["showcase"]["affinities"]
            fig, ax = plt.subplots(figsize=(6, 3))
            ax.barh(list(aff)[::-1], list(aff.values())[::-1], color="#1f77b4")
            ax.set_title(f"user {self.figures['showcase']['user']}: decayed genre affinities after the burst")
            fig.tight_layout()
            fig.savefig(OUT / "affinities.png", dpi=110)
            plt.close(fig)
            charts = ["hit_rate.png", "freshness.png", "affinities.png"]
        except ImportError:
            pass
        r, f, s = self.figures["replay"], self.figures["freshness_seconds"], self.figures["showcase"]
        lines = [
            "# Pulse demo on MovieLens-100K",
            "",
            "| replay (same sampled events) | HR@10 | NDCG@10 | warm HR@10 | cold HR@10 |",
            "|---|---|---|---|---|",
        ]
        for label, prefix in (
            ("real-time, live API", "live"),
            ("real-time, in-process", "realtime"),
            ("frozen at cut-off", "frozen"),
            ("popularity", "popularity"),
        ):
            lines.append(
                f"| {label} | {r[prefix + '/all']['hr@10']:.3f} | {r[prefix + '/all']['ndcg@10']:.3f} | "
                f"{r[prefix + '/warm']['hr@10']:.3f} | {r[prefix + '/cold']['hr@10']:.3f} |"
            )
        lines += [
            "",
            f"Freshness over {f['trials']} trials: p50 {f['p50'] * 1000:.0f} ms, p95 {f['p95'] * 1000:.0f} ms.",
            "",
            f"Showcase: user {s['user']}, burst in {s['genre']}: the answer changed after "
            f"{s['changed_after_ms']:.0f} ms; {s['genre']} items in the top 10: {s['genre_share_before']} -> "
            f"{s['genre_share_after']}.",
            "",
        ] + [f"![{c}]({c})" for c in charts]
        (OUT / "report.md").write_text("\n".join(lines) + "\n")
        return OUT / "report.md"

    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        history, future = self.load()
        self.stack.start()
        try:
            model = self.train_and_promote(history)
            self.stream_history(history)
            self.replay(model, history, future)
            self.showcase(model, history)
            self.audiences()
            path = self.report()
            say(f"7. report: {path}  (whole run {time.perf_counter() - started:.0f} s)")
            if self.args.serve:
                self.serve()
        finally:
            self.stack.stop()
        return self.figures

    def serve(self) -> None:
        user = self.figures["showcase"]["user"]
        say("\nThe stack keeps running (Ctrl-C stops it). Try:")
        for cmd in (
            f"curl -s {self.api}/health",
            f"curl -s '{self.api}/users/{user}/recommendations?k=5&explain=true'",
            f"curl -s {self.api}/users/{user}/profile",
            f"curl -s {self.api}/segments",
            f"curl -s '{self.api}/segments/risk_flagged/users?limit=10'",
            f"curl -s '{self.api}/items/50/similar?k=5'",
        ):
            say("  " + cmd)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            say("stopping")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=200, help="interactions asked about through the live API")
    parser.add_argument("--trials", type=int, default=60, help="freshness trials (step 5)")
    parser.add_argument("--rate", type=float, default=0.0, help="events/s when streaming the history (0: max)")
    parser.add_argument("--max-users", type=int, default=0, help="use only the first N users (quick runs)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--aws-port", type=int, default=5000)
    parser.add_argument("--api-port", type=int, default=3000)
    parser.add_argument("--poll-interval", type=float, default=0.2)
    parser.add_argument("--serve", action="store_true", help="keep the stack running at the end")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    Demo(parse_args(argv)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
