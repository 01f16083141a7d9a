"""``python -m scripts.resegment``: re-evaluate every profile's segments now (``make resegment``).

Run it after editing ``layers/core/pulse/domain/segments.json`` and deploying (a new or changed rule
otherwise reaches a profile only with its next event), and once on a stack whose profiles were
written before due times existed (so that the scheduled refresher knows when they are due). It scans
the profiles table's keys in ``--workers`` parallel parts, then reads and writes each profile with
the updater's conditional write and membership transaction; a profile that an event changes
meanwhile is skipped, since that write evaluated it already. Where each part has got to is saved in
a state file, so a run that stops (throttling beyond the retries, Ctrl-C) can continue there with
``--resume``; without it a run starts over. Then it recounts every segment's members into the counters that
``GET /segments`` reads (``--recount-only`` does just that: once after upgrading a stack whose
memberships predate the counters, or to repair a count; safe while events flow). Talks to whichever
endpoint ``AWS_ENDPOINT_URL`` names (default: the local stack); ``PROFILES_TABLE`` /
``SEGMENTS_TABLE`` name the tables (default: the local stack's), or ``--stack`` reads them from a
deployed stack's outputs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pulse.adapters.profile_store import DynamoProfileStore
from pulse.adapters.segment_directory import DynamoSegmentDirectory
from pulse.config import Settings
from pulse.services.profiles import recount_segments
from pulse.services.segment_refresh import RefreshOutcome, resegment_all
from scripts import stack

CHECKPOINT_EVERY = 100  # profiles between two saves of a part's position
DONE = "done"


class Progress:
    """Where each part of the scan has got to, saved to a JSON file after every ``CHECKPOINT_EVERY``
    profiles (written whole, then renamed, so a stop never leaves half a file)."""

    def __init__(self, path: Path, table: str, parts: int, resume: bool) -> None:
        self.path, self._lock = path, threading.Lock()
        saved = None
        if resume:
            if not path.exists():
                raise SystemExit(f"--resume: no saved state at {path}")
            saved = json.loads(path.read_text())
            if saved.get("table") != table:
                raise SystemExit(f"--resume: {path} is the state of a run on {saved.get('table')}, not {table}")
        self.resumed = saved is not None
        self.state: dict[str, Any] = saved or {"table": table, "parts": parts, "positions": {}}

    @property
    def parts(self) -> int:
        return int(self.state["parts"])

    def position(self, part: int) -> Any:
        return self.state["positions"].get(str(part))

    def save(self, part: int, position: Any) -> None:
        with self._lock:
            self.state["positions"][str(part)] = position
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_suffix(".partial")
            partial.write_text(json.dumps(self.state))
            partial.replace(self.path)


def reevaluate(store: DynamoProfileStore, progress: Progress, now: float) -> RefreshOutcome:
    """Every part of the scan that is not done yet, in parallel; raises the first part's failure
    after the other parts have finished (their positions are saved). On Ctrl-C every part stops
    after the profile in hand and saves its position."""
    stop = threading.Event()

    def run(part: int) -> RefreshOutcome:
        start = progress.position(part)
        if start == DONE:
            return RefreshOutcome()
        scan = store.user_ids(part, progress.parts, start)

        def users() -> Iterator[str]:
            for taken, user in enumerate(scan, 1):
                yield user  # the caller re-evaluates it before asking for the next one
                if stop.is_set():
                    progress.save(part, scan.resume_key)
                    return
                if taken % CHECKPOINT_EVERY == 0:
                    progress.save(part, scan.resume_key)
            progress.save(part, DONE)

        return resegment_all(store, users(), now, say=lambda line: print(f"part {part}: {line}", flush=True))

    total = RefreshOutcome()
    failures: list[BaseException] = []
    with ThreadPoolExecutor(progress.parts) as pool:
        futures = [pool.submit(run, part) for part in range(progress.parts)]
        try:
            for future in futures:
                try:
                    outcome = future.result()
                except Exception as exc:  # noqa: BLE001  # reported below, once every part has stopped
                    failures.append(exc)
                    continue
                for field in dataclasses.fields(RefreshOutcome):
                    setattr(total, field.name, getattr(total, field.name) + getattr(outcome, field.name))
        except KeyboardInterrupt:
            stop.set()  # the pool waits for the parts to save their positions
            failures.insert(0, KeyboardInterrupt("stopped by Ctrl-C"))
    if failures:
        raise failures[0]
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.resegment", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", help="a deployed stack's name: the tables from its outputs")
    parser.add_argument(
        "--recount-only", action="store_true", help="only recount the segments' members (no re-evaluation)"
    )
    parser.add_argument("--workers", type=int, default=4, help="parallel parts of the scan (default 4)")
    parser.add_argument("--state", type=Path, help="state file (default .cache/resegment/<profiles table>.json)")
    parser.add_argument("--resume", action="store_true", help="continue the stopped run whose state is saved")
    args = parser.parse_args(argv)
    if not 1 <= args.workers <= 64:
        parser.error("--workers: 1 to 64")
    env = dict(os.environ)
    env.setdefault("PROFILES_TABLE", stack.local_name("ProfilesTable"))
    env.setdefault("SEGMENTS_TABLE", stack.local_name("SegmentsTable"))
    if args.stack:
        found = stack.outputs(args.stack)
        env["PROFILES_TABLE"], env["SEGMENTS_TABLE"] = found["ProfilesTableName"], found["SegmentsTableName"]
    settings = Settings.model_validate(env)
    started = time.perf_counter()
    if not args.recount_only:
        table = settings.profiles_table
        path = args.state or Path(".cache/resegment") / f"{table}.json"
        progress = Progress(path, table, args.workers, args.resume)
        if progress.resumed:
            left = sum(progress.position(p) != DONE for p in range(progress.parts))
            print(f"resuming from {path}: {left} of {progress.parts} parts left")
        try:
            outcome = reevaluate(DynamoProfileStore(settings), progress, now=time.time())
        except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001  # the operator gets the cause and how to go on
            print(f"stopped: {type(exc).__name__}: {exc}; run it again with --resume to continue from {path}")
            return 130 if isinstance(exc, KeyboardInterrupt) else 1
        path.unlink(missing_ok=True)
        print(
            f"re-evaluated {outcome.refreshed} of {outcome.due} profiles in {time.perf_counter() - started:.1f} s "
            f"({progress.parts} parts): {outcome.joined} memberships joined, {outcome.left} left; "
            f"{outcome.conflicts} changed by an event meanwhile (already current), {outcome.not_due} gone"
        )
    counts = recount_segments(DynamoSegmentDirectory(settings))
    print(
        f"recounted {len(counts)} segments ({sum(counts.values())} memberships) in "
        f"{time.perf_counter() - started:.1f} s: " + ", ".join(f"{name} {n}" for name, n in counts.items() if n)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
