"""``python -m scripts.resegment``: re-evaluate every profile's segments now (``make resegment``).

Run it after editing ``layers/core/pulse/domain/segments.json`` and deploying (a new or changed rule
otherwise reaches a profile only with its next event), and once on a stack whose profiles were
written before due times existed (so that the scheduled refresher knows when they are due). It scans
the profiles table's keys, then reads and writes each profile with the updater's conditional write and
membership transaction; a profile that an event changes meanwhile is skipped, since that write
evaluated it already. Then it recounts every segment's members into the counters that ``GET /segments``
reads (``--recount-only`` does just that: once after upgrading a stack whose memberships predate the
counters, or to repair a count; safe while events flow). Talks to whichever endpoint
``AWS_ENDPOINT_URL`` names (default: the local stack); ``PROFILES_TABLE`` / ``SEGMENTS_TABLE`` name
the tables (default: the local stack's), or ``--stack`` reads them from a deployed stack's outputs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from pulse.adapters.dynamo import DynamoProfileStore, DynamoSegmentDirectory
from pulse.config import Settings
from pulse.services.profiles import recount_segments
from pulse.services.segment_refresh import resegment_all
from scripts import stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.resegment", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", help="a deployed stack's name: the tables from its outputs")
    parser.add_argument(
        "--recount-only", action="store_true", help="only recount the segments' members (no re-evaluation)"
    )
    args = parser.parse_args(argv)
    env = dict(os.environ)
    env.setdefault("PROFILES_TABLE", stack.local_name("ProfilesTable"))
    env.setdefault("SEGMENTS_TABLE", stack.local_name("SegmentsTable"))
    if args.stack:
        found = stack.outputs(args.stack)
        env["PROFILES_TABLE"], env["SEGMENTS_TABLE"] = found["ProfilesTableName"], found["SegmentsTableName"]
    settings = Settings.model_validate(env)
    store = DynamoProfileStore(settings)
    started = time.perf_counter()
    if not args.recount_only:
        outcome = resegment_all(store, store.user_ids(), now=time.time(), say=print)
        print(
            f"re-evaluated {outcome.refreshed} of {outcome.due} profiles in {time.perf_counter() - started:.1f} s: "
            f"{outcome.joined} memberships joined, {outcome.left} left; "
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
