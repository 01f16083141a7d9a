"""``python -m scripts.backfill --events <log>``: put a historical event log on the stream, so the profile
updater builds profiles from it exactly as it does from live traffic (``make backfill EVENTS=<log>``).

The log is read like ``make train`` reads it (JSON Lines, gzip or not, a file, a directory or an
``s3://`` URL or prefix). Each line is checked with the updater's own validation first: an invalid line
is not put on the stream (it would only be dead-lettered), it is counted, and ``--rejects FILE``
receives it with its line number and reason. Valid lines go out unchanged, 500 per ``PutRecords``, with
``PartitionKey`` = ``user_id`` (one user's events stay in order on one shard), at most ``--rate``
records a second (the stream's write limit: 1,000 records/s per provisioned shard).

If the stream refuses records after retries, the backfill stops and prints the line to resume from
(``--start-line``). Resume rather than start over: the updater skips an ``event_id`` it has applied
only among a user's newest 256, so re-sending a whole history would apply a heavy user's older
events twice.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from pulse.adapters.aws import KinesisEventPublisher
from pulse.config import Settings
from pulse.domain.events import InvalidEvent
from pulse.domain.records import parse_record, partition_key
from pulse.ports import EventPublisher
from scripts import stack

PUT_RECORDS_MAX = 500
ERRORS_SHOWN = 10


@dataclass
class BackfillReport:
    put: int = 0  # records the stream accepted
    invalid: int = 0  # lines that fail validation (not put)
    last_line: int = 0  # the last line put on the stream
    resume_from: int | None = None  # set when the stream refused records: the line to start again from
    errors: list[tuple[int, str]] = field(default_factory=list)  # the first few invalid lines


def backfill(
    lines: Iterable[tuple[int, bytes]],
    publisher: EventPublisher,
    rate: float | None = None,
    start_line: int = 1,
    rejects: IO[str] | None = None,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> BackfillReport:
    report = BackfillReport()
    pending: list[tuple[int, str, bytes]] = []
    started = clock()

    def flush() -> bool:
        """Put the pending records; False (and ``resume_from`` set) if the stream refused any."""
        if not dry_run:
            failed = publisher.publish([(user, data) for _, user, data in pending])
            if failed:
                report.resume_from = min(pending[i][0] for i in failed)
                report.put += sum(1 for i, row in enumerate(pending) if row[0] < report.resume_from)
                return False
        report.put += len(pending)
        report.last_line = pending[-1][0]
        pending.clear()
        if rate:  # hold the average at or below ``rate`` records a second
            sleep(max(0.0, report.put / rate - (clock() - started)))
        return True

    for number, line in lines:
        if number < start_line or not line.strip():
            continue
        data = line.rstrip(b"\r\n")
        try:
            event = parse_record(data)  # the updater's own check, at this clock
        except InvalidEvent as exc:
            report.invalid += 1
            if len(report.errors) < ERRORS_SHOWN:
                report.errors.append((number, exc.reason))
            if rejects is not None:
                row = {"line": number, "reason": exc.reason, "data": data.decode("utf-8", "replace")}
                rejects.write(json.dumps(row) + "\n")
            continue
        pending.append((number, partition_key(event), data))
        if len(pending) == PUT_RECORDS_MAX and not flush():
            return report
    if pending:
        flush()
    return report


def main(argv: list[str] | None = None) -> int:
    from training.eventlog import numbered_lines

    parser = argparse.ArgumentParser(prog="python -m scripts.backfill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", required=True, help="the log: a file, a directory or s3:// (a prefix ends in /)")
    parser.add_argument("--stream", help="the event stream (default: EVENT_STREAM, else the local stack's)")
    parser.add_argument("--rate", type=float, default=1000.0, help="records per second at most (0: no limit)")
    parser.add_argument("--start-line", type=int, default=1, help="resume from this line of the log")
    parser.add_argument("--rejects", help="write invalid lines here (JSON Lines: line, reason, data)")
    parser.add_argument("--dry-run", action="store_true", help="validate and count only; put nothing")
    args = parser.parse_args(argv)
    stream = stack.event_stream(args.stream)
    settings = Settings.model_validate({**os.environ, "EVENT_STREAM": stream})
    s3: Any = None
    if args.events.startswith("s3://"):
        import boto3

        s3 = boto3.client("s3", region_name=settings.region)
    rejects = open(args.rejects, "w") if args.rejects else None  # noqa: SIM115 - closed below
    try:
        report = backfill(
            numbered_lines(args.events, s3),
            KinesisEventPublisher(settings),
            rate=args.rate or None,
            start_line=args.start_line,
            rejects=rejects,
            dry_run=args.dry_run,
        )
    finally:
        if rejects is not None:
            rejects.close()
    verb = "would put" if args.dry_run else "put"
    print(f"{verb} {report.put} events on {stream} (through line {report.last_line}); {report.invalid} invalid lines")
    for number, reason in report.errors:
        print(f"  line {number}: {reason}")
    if report.resume_from is not None:
        print(f"the stream refused records: resume with --start-line {report.resume_from}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
