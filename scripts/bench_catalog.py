"""The live catalogue and live popularity, measured (a script, not a test): ``make bench-catalog``.

1. Freshness on the local stack: an item patched to unavailable, then the time until ``/popular``
   no longer shows it (and back), over ``TRIALS`` trials, with ``CatalogRefreshSeconds`` 2.
2. The popularity counters' domain code: events/s of the tally, and the counter writes a batch needs
   against the events it holds (hour and day rows per distinct item).
3. Serving with the live catalogue in memory: a model-less page (content + popularity over every
   held item) and the new-arrival blend, at 20,000 (the held maximum) and 100,000 items.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import requests

from pulse.domain.activity import tally
from pulse.domain.catalog import CatalogItem
from pulse.domain.events import parse_event
from pulse.domain.updater import PositionedEvent, apply_user_events
from pulse.recommend.scorer import Recommendation
from pulse.services.catalog_view import CatalogView
from pulse.services.live_answers import LiveContext, live_page, with_new_items
from training.synthetic import Shape, generate

TRIALS = 50
REQUESTS = 300


def percentiles(took: list[float]) -> str:
    took = sorted(took)
    p95, p99 = took[int(0.95 * len(took)) - 1], took[int(0.99 * len(took)) - 1]
    return f"p50 {statistics.median(took):7.2f}  p95 {p95:7.2f}  p99 {p99:7.2f}"


def freshness() -> None:
    from infrastructure.local_stack import LocalStack, LocalStackConfig
    from tests.modelkit import publish_and_promote, tiny_model

    config = LocalStackConfig(aws_port=5460, api_port=3460, parameters={"ModelRefreshSeconds": "1"})
    config.stack_name = "pulse-bench-catalog"
    with LocalStack(config) as stack, requests.Session() as http:
        publish_and_promote(stack.client("s3"), stack.outputs()["ModelBucketName"], tiny_model(), "bench")
        api = stack.api_url
        while http.get(f"{api}/health", timeout=30).json()["model_version"] != "bench":
            time.sleep(0.2)

        def shown(item: str) -> bool:
            rows = http.get(f"{api}/popular", params={"k": 48}, timeout=30).json()["items"]
            return item in {row["item_id"] for row in rows}

        def until(check: Callable[[], bool]) -> float:
            start = time.perf_counter()
            while not check():
                time.sleep(0.02)
            return time.perf_counter() - start

        item = http.get(f"{api}/popular", params={"k": 1}, timeout=30).json()["items"][0]["item_id"]
        http.put(f"{api}/items/{item}", json={"title": "bench"}, timeout=30).raise_for_status()
        gone, back = [], []
        for _ in range(TRIALS):
            http.patch(f"{api}/items/{item}", json={"available": False}, timeout=30).raise_for_status()
            gone.append(until(lambda: not shown(item)))
            http.patch(f"{api}/items/{item}", json={"available": True}, timeout=30).raise_for_status()
            back.append(until(lambda: shown(item)))
    print(f"1. availability change to answer, {TRIALS} trials, CatalogRefreshSeconds 2 (s)")
    for name, took in (("unavailable -> gone", gone), ("available -> back", back)):
        took.sort()
        print(f"   {name:<22} p50 {statistics.median(took):5.2f}  p95 {took[int(0.95 * len(took)) - 1]:5.2f}")


def counters() -> None:
    shape = Shape(users=2_000, items=5_000, events=100_000, days=1.0, start=time.time() - 86_400)
    now = time.time()
    events = [parse_event(e, now=now) for e in generate(shape, seed=1)]
    start = time.perf_counter()
    tally(events, now)
    rate = len(events) / (time.perf_counter() - start)
    print(f"2. popularity tally: {rate:,.0f} events/s (domain code, {len(events):,} synthetic events)")
    for size in (100, 500):
        rows = [len(tally(events[i : i + size], now)) for i in range(0, len(events), size)]
        print(f"   batches of {size}: {statistics.mean(rows):.0f} counter writes per batch (hour + day rows)")


def catalogue(n: int, rng: np.random.Generator) -> list[CatalogItem]:
    cats = [f"cat-{c}" for c in range(200)]
    return [
        CatalogItem(
            item_id=f"item-{i}",
            title=f"Item {i}",
            categories=["Shop", cats[int(rng.integers(200))]],
            brand=f"brand-{int(rng.integers(500))}",
            price=float(rng.uniform(1, 500)),
            created_at=1.0 + i,
            updated_at=1.0 + i,
        )
        for i in range(n)
    ]


def serving() -> None:
    rng = np.random.default_rng(0)
    now = time.time()
    raw = [e for e in generate(Shape(users=1, items=5_000, events=600, categories=200, start=now - 86_400, days=1.0))]
    profile_events = [PositionedEvent(parse_event({**e, "user_id": "heavy"}, now=now)) for e in raw if "item_id" in e]
    profile = apply_user_events(None, "heavy", profile_events, now=now, half_life_days=14).state.profile
    page = [Recommendation(f"model-{i}", 0.5) for i in range(10)]

    class Model:
        version, index = "v", {f"model-{i}": i for i in range(10)}

    print(f"3. live answers in memory, a profile of {len(profile_events)} events, {REQUESTS} requests (ms)")
    for n in (20_000, 100_000):
        items = catalogue(n, rng)

        class Held(CatalogView):  # the serving copy, filled without a store
            def refresh(self) -> None:
                return None

        view = Held(store=None)  # type: ignore[arg-type]
        view.items = {item.item_id: item for item in items}
        view.max_items = n
        started = time.perf_counter()
        view.unknown_to(None)
        build = (time.perf_counter() - started) * 1000
        popularity = {f"item-{i}": float(rng.integers(1, 100)) for i in rng.choice(n, 5_000, replace=False)}
        ctx = LiveContext(view, popularity, "7d", profile, now=now)
        for name, call in (
            ("model-less page", lambda ctx=ctx: live_page(ctx, 10, [], None)),
            ("new-arrival blend", lambda ctx=ctx: with_new_items(page, ctx, Model(), 10, 0.2, [], None)),  # type: ignore[arg-type]
        ):
            took = []
            for _ in range(REQUESTS):
                start = time.perf_counter()
                call()
                took.append((time.perf_counter() - start) * 1000)
            print(f"   {n:>7,} items {name:<18} {percentiles(took)}  (index built once: {build:.0f} ms)")


def main(argv: list[str] | None = None) -> None:
    parts: dict[str, Any] = {"freshness": freshness, "counters": counters, "serving": serving}
    for name in argv or list(parts):
        parts[name]()


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
