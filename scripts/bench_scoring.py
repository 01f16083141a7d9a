"""Scoring cost by catalogue size and profile length (a script, not a test): ``make bench-scoring``.

For synthetic catalogues of 10k, 100k and 1M items with the top-100 neighbour and transition lists
training ships, and profiles of 1 to 1,000 events, it times one page of 10 (warm, profile in hand,
no I/O) two ways in the same run: the dense reference (a catalogue-long vector per feature, every
candidate sorted: the scorer before issue 23) and the served scorer (work over the touched items,
the top selected before sorting). Both give the same pages (``tests/unit/test_scorer_equivalence.py``).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from pulse.recommend import dense
from pulse.recommend.artifacts import build_manifest, load_model
from pulse.recommend.explain import Explainer
from pulse.recommend.scorer import Scorer, Signals
from scripts.bench_api import profiles
from scripts.synthetic_model import synthetic_files

LENGTHS = (1, 10, 100, 300, 1000)


def dense_page(scorer: Scorer, sig: Signals, k: int, explain: bool) -> list[str]:
    """The page as the scorer made it before: dense features, every candidate sorted."""
    cand, scores, features = dense.score(scorer, sig)  # raw features, one row per feature
    keep = scorer.model.available[cand].copy()
    if sig.seen:
        keep &= ~np.isin(cand, np.fromiter(sig.seen, dtype=np.int64))
    positions = np.flatnonzero(keep)
    order = positions[np.argsort(-scores[positions], kind="stable")]
    chosen = scorer._diversify(cand, order, k)
    out, explainer = [], Explainer(scorer, sig)
    for pos in chosen:
        item = int(cand[pos])
        if explain:
            z = scorer.standardise(features[:, pos : pos + 1])[:, 0] if features.size else None
            explainer.reasons(item, z)
        out.append(scorer.model.item_ids[item])
    return out


def timed(fn: object, signals: list[Signals], rounds: int) -> tuple[float, float]:
    samples = []
    for n in range(rounds):
        started = time.perf_counter()
        fn(signals[n % len(signals)])  # type: ignore[operator]
        samples.append(time.perf_counter() - started)
    p50, p99 = np.percentile(np.asarray(samples) * 1000, [50, 99])
    return float(p50), float(p99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--requests", type=int, default=200, help="pages timed per cell")
    args = parser.parse_args()
    print("p50 / p99 ms per page of 10; before = dense reference, after = served scorer")
    print(f"{'items':>9} {'events':>6} {'explain':>7} {'before p50':>10} {'p99':>7} {'after p50':>9} {'p99':>7} x")
    for size in (int(s) for s in args.sizes.split(",")):
        files = synthetic_files(size, neighbors=100)
        model = load_model("bench", json.dumps(build_manifest("bench", files)).encode(), files)
        del files
        bench_size(Scorer(model), size, args.requests)


def bench_size(scorer: Scorer, size: int, requests: int) -> None:
    for length in LENGTHS:
        signals = [scorer.signals(p) for p in profiles(scorer.model, 20, length, seed=length)]
        for explain in (False, True):
            before = timed(lambda s, e=explain: dense_page(scorer, s, 10, e), signals, max(20, requests // 4))
            after = timed(lambda s, e=explain: scorer.page(s, k=10, explain=e), signals, requests)
            print(
                f"{size:>9,} {length:>6} {'yes' if explain else 'no':>7} {before[0]:>10.2f} {before[1]:>7.2f} "
                f"{after[0]:>9.2f} {after[1]:>7.2f} {before[0] / after[0]:>5.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
