"""Upper bounds of the updater's domain throughput (a script, not a test): what ``make bench``'s domain
column would show if parts of the work cost nothing.

Runs the four default configurations of ``scripts.bench_updater`` (50,000 events; batch / users
100/100, 100/10k, 1000/100, 1000/10k) as they are, then with one part taken away at a time:
- segment evaluation (the version still moves, as a write's does; memberships are left as they were);
- parsing (every event is parsed once before the clock starts and looked up during the run);
- the cyclic garbage collector (off for the whole run);
and with all three taken away. No answer here is correct: it says how much of the time each part is,
so that a target can be checked against what is left when a part is made cheaper.
``python -m scripts.bench_updater_bounds [--rounds N]``.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from typing import Any

from scripts import bench_updater as bench

CONFIGS = [(100, 100), (100, 10_000), (1000, 100), (1000, 10_000)]
TOTAL = 50_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import functions.profile_updater.app  # noqa: F401  # the heap an updater container has
    from pulse import heap
    from pulse.domain import updater
    from pulse.domain.records import Record, parse_record
    from pulse.services import ingest

    heap.settle(force=True)
    made: dict[tuple[int, int, int], list[bytes]] = {}
    make = bench.make_events

    def make_once(n: int, users: int, seed: int, start: float) -> list[bytes]:
        # the same payloads on every run, so that they can be parsed before the clock starts
        if (n, users, seed) not in made:
            made[n, users, seed] = make(n, users, seed, start)
        return made[n, users, seed]

    bench.make_events = make_once
    now = time.time()
    parsed: dict[bytes, Record] = {}
    for batch, users in CONFIGS:
        for payload in make_once(TOTAL, users, batch + users, now - 86400):
            parsed[payload] = parse_record(payload, now=now)
    evaluate = updater._evaluate_segments

    def no_evaluation(state: Any, clock: float, at: float, update: Any, before: Any = None) -> None:
        state.segments_clock = clock
        state.profile.version += 1
        state.profile.updated_at = max(at, state.profile.updated_at)

    def looked_up(data: bytes | str | dict[str, Any], now: float | None = None) -> Record:
        return parsed[data] if isinstance(data, bytes) else parse_record(data, now=now)

    def run(label: str, evaluation: bool = True, parsing: bool = True, collector: bool = True) -> None:
        patched: Callable[..., Any] = evaluate if evaluation else no_evaluation
        updater._evaluate_segments = patched
        ingest.parse_record = parse_record if parsing else looked_up  # type: ignore[assignment]
        enabled = gc.isenabled()
        if not collector:
            gc.disable()
        try:
            figures = [bench.bench_domain(batch, users, TOTAL) for batch, users in CONFIGS]
        finally:
            if enabled:
                gc.enable()
            updater._evaluate_segments, ingest.parse_record = evaluate, parse_record
        print(f"{label:28s}", " / ".join(f"{f:,.0f}" for f in figures), flush=True)

    print("events/s, batch/users:       100/100 / 100/10k / 1000/100 / 1000/10k")
    for _ in range(args.rounds):
        run("as is")
        run("no segment evaluation", evaluation=False)
        run("no parsing", parsing=False)
        run("no cyclic collector", collector=False)
        run("none of the three", evaluation=False, parsing=False, collector=False)


if __name__ == "__main__":
    main()
