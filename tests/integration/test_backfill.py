"""Backfill: a historical log put on the template's stream (moto), checked line by line first."""

import gzip
import io
import json
import time
from typing import Any

from pulse.adapters.aws import KinesisEventPublisher
from pulse.config import get_settings
from pulse.ports import EventPublisher
from scripts import backfill as bf
from training.eventlog import numbered_lines

T0 = time.time() - 30 * 86400


def line(i: int, user: str, **extra: Any) -> str:
    body = {"event_id": f"{user}-{i}", "event_type": "view", "user_id": user, "timestamp": T0 + i, "item_id": "x"}
    return json.dumps(body | extra)


def stream_records(kinesis: Any, stream: str) -> list[dict[str, Any]]:
    out = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        out += kinesis.get_records(ShardIterator=it["ShardIterator"], Limit=10000)["Records"]
    return out


def test_a_gzip_log_reaches_the_stream_unchanged_and_invalid_lines_are_reported(aws_stack, tmp_path) -> None:
    # Given a gzip log of 1,203 events (3 batches), a blank line, one invalid and one 10 minutes ahead
    good = [line(i, f"u{i % 7}") for i in range(1203)]
    rows = [*good[:600], "", '{"event_type": "view"}', line(9999, "late", timestamp=time.time() + 600), *good[600:]]
    log = tmp_path / "history.jsonl.gz"
    log.write_bytes(gzip.compress("\n".join(rows).encode()))
    rejects = io.StringIO()
    # When it is backfilled
    report = bf.backfill(
        numbered_lines(str(log)), KinesisEventPublisher(get_settings(), sleep=lambda _: None), rejects=rejects
    )
    # Then every valid line is on the stream as it was written, keyed by its user, and nothing else
    assert (report.put, report.invalid, report.resume_from, report.last_line) == (1203, 2, None, len(rows))
    records = stream_records(aws_stack.client("kinesis"), aws_stack.env["EVENT_STREAM"])
    assert sorted(r["Data"].decode() for r in records) == sorted(good)
    assert all(json.loads(r["Data"])["user_id"] == r["PartitionKey"] for r in records)
    rejected = [json.loads(x) for x in rejects.getvalue().splitlines()]
    assert [r["line"] for r in rejected] == [602, 603]
    assert "ahead of the processor's clock" in rejected[1]["reason"]


class Refusing(EventPublisher):
    """A stream that refuses the record at one index of the n-th PutRecords call."""

    def __init__(self, call: int, index: int) -> None:
        self.calls, self.call, self.index = 0, call, index  # an EventPublisher that refuses one record
        self.accepted: list[bytes] = []

    def publish(self, records):
        self.calls += 1
        failed = [self.index] if self.calls == self.call else []
        self.accepted += [data for i, (_, data) in enumerate(records) if i not in failed]
        return failed


def test_a_refused_record_stops_the_backfill_at_a_line_it_can_resume_from() -> None:
    lines = [(n, line(n, "u").encode() + b"\n") for n in range(1, 1201)]
    stream = Refusing(call=2, index=100)  # line 601 is the 101st of the second batch
    report = bf.backfill(lines, stream)
    assert report.resume_from == 601 and report.put == 600
    resumed = bf.backfill(lines, stream, start_line=report.resume_from)
    assert resumed.resume_from is None and resumed.put == 600
    # every line reached the stream; the ones after the refusal in that batch twice (the updater's
    # event ids make the second copy a no-op)
    sent = [json.loads(d)["event_id"] for d in stream.accepted]
    assert set(sent) == {f"u-{n}" for n in range(1, 1201)} and len(sent) == 1200 + 399


def test_rate_is_held_and_dry_run_puts_nothing() -> None:
    lines = [(n, line(n, "u").encode()) for n in range(1, 1001)]
    stream = Refusing(call=0, index=0)
    slept: list[float] = []
    report = bf.backfill(lines, stream, rate=250.0, sleep=slept.append, clock=lambda: 0.0)
    assert report.put == 1000 and slept == [2.0, 4.0]  # 500 records at 250/s: 2 s after each batch
    dry = bf.backfill(lines, Refusing(call=1, index=0), dry_run=True)
    assert dry.put == 1000 and dry.resume_from is None
