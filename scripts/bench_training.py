"""The retraining ceiling, measured (a script, not a test): ``make bench-training [SIZES=1000000,3000000]``.

For each size, a synthetic shop log from ``pulse synthetic`` (users = events / 10, items = events / 100;
cached under .cache/synthetic/), then the training the retraining function runs (``python -m training
train --no-publish`` with the function's settings: TRAINING_EVAL_USERS 5,000 and TRAINING_DENSE_MAX_ITEMS
5,000; ``--dense-max-items 20000`` gives what ``pulse train`` does) in a child
process: wall time and the child's peak resident memory. What that means on Lambda (15 minutes,
10,240 MB at most) is in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from infrastructure.template import ROOT
from training.synthetic import Shape, write

CACHE = ROOT / ".cache" / "synthetic"


def log_of(events: int) -> Path:
    path = CACHE / f"ceiling-{events}.jsonl.gz"
    if not path.exists():
        shape = Shape(events=events, users=max(100, events // 10), items=max(100, events // 100))
        shape = Shape(**{**shape.__dict__, "days": max(7.0, math.log10(max(10, events)) * 10)})
        started = time.perf_counter()
        tmp = path.with_suffix(".part")
        write(tmp, shape)
        tmp.rename(path)
        print(f"  generated {events:,} events in {time.perf_counter() - started:.0f} s: {path}", flush=True)
    return path


def measure(path: Path, eval_users: int, dense_max_items: int) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak resident MB, exit code) of one training run in a fresh child
    process (CPU time is what a busy machine does not inflate; wall time includes waiting)."""
    command = [sys.executable, "-m", "training", "train", "--events", str(path), "--no-publish"]
    command += ["--eval-users", str(eval_users), "--dense-max-items", str(dense_max_items)]
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the largest child's so far
        child.returncode = os.waitstatus_to_exitcode(status)
        took = time.perf_counter() - started
        out.seek(0)
        text = out.read()
    wanted = ("read ", "data:", "chosen:", "gate", "  baseline", "error")
    for line in text.splitlines():
        if line.startswith(wanted):
            print(f"    {line}")
    return took, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, child.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,3000000,10000000")
    parser.add_argument("--eval-users", type=int, default=5000, help="the function's TRAINING_EVAL_USERS")
    parser.add_argument(
        "--dense-max-items", type=int, default=5000, help="the function's TRAINING_DENSE_MAX_ITEMS (pulse train: 20000)"
    )
    args = parser.parse_args(argv)
    rows = []
    for events in (int(x) for x in args.sizes.split(",")):
        print(f"{events:,} events", flush=True)
        took, cpu, peak, code = measure(log_of(events), args.eval_users, args.dense_max_items)
        rows.append((events, took, cpu, peak, code))
        print(f"  {took:8.1f} s wall  {cpu:8.1f} s CPU  peak {peak:8.0f} MB  exit {code}", flush=True)
    print("\n| events | users | items | wall time | CPU time | peak memory | exit |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for events, took, cpu, peak, code in rows:
        row = f"| {events:,} | {events // 10:,} | {events // 100:,} | {took:.0f} s | {cpu:.0f} s | {peak:,.0f} MB |"
        print(f"{row} {code} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
