"""``python -m scripts.dead_letters list|replay``: what the profile updater could not apply, and putting
it back on the stream (``make dead-letters``, ``make replay-dead-letters [REASON=...] [DRY_RUN=1]``).

The dead-letter queue holds two kinds of message:

- a **record** the updater rejected (not JSON, invalid, over 10 KB, too far in the future), sent by the
  updater with its reason, stream position, partition key and original bytes;
- a **batch** whose retries ran out or whose records grew too old, sent by Lambda's event source
  mapping to its on-failure destination. It names only the shard and the sequence range, so the
  records are read back from the stream, which keeps them for ``StreamRetentionHours``.

``replay`` puts the original bytes back on the stream under their partition key, then deletes the
message. The updater applies each event once: event ids already applied to the profile are skipped.
A rejected record is put back only if it passes the event validation now (a timestamp that was too
far ahead of the clock, a rule fixed since); otherwise it stays in the queue and the reason is
printed. A batch whose records the stream no longer holds in full stays in the queue too, after what
is left of it has been put back. Nothing is ever deleted that was not put back on the stream.

Talks to whichever AWS endpoint the standard environment names (``AWS_ENDPOINT_URL`` for the local
stack). Queue and stream: ``--stack <name>`` reads them from a deployed stack's outputs; otherwise
``DEAD_LETTER_QUEUE_URL`` / ``EVENT_STREAM`` (the functions' own variables), else the local stack's.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pulse.adapters.aws import KinesisEventPublisher, client
from pulse.config import Settings
from pulse.domain.events import InvalidEvent
from pulse.domain.records import parse_record, partition_key
from scripts import stack

VISIBILITY_SECONDS = 300  # long enough to list or replay a queue before a message reappears
SQS_BATCH = 10


@dataclass(frozen=True)
class Letter:
    """One dead-letter message, read without changing it."""

    message_id: str
    receipt: str
    kind: str  # "record" (rejected by the updater), "batch" (on-failure destination) or "unknown"
    reason: str
    shard_id: str = ""
    first_sequence: str = ""
    last_sequence: str = ""
    size: int = 1
    partition_key: str = ""
    payload: bytes = b""
    stream_arn: str = ""
    sent_at: float | None = None
    payload_location: str = ""  # s3://... when the payload was too large for a message


def parse_letter(message: dict[str, Any]) -> Letter:
    """Either message kind from its SQS body; anything else is ``unknown`` and never replayed."""
    base = {"message_id": message["MessageId"], "receipt": message["ReceiptHandle"]}
    sent = message.get("Attributes", {}).get("SentTimestamp")
    base["sent_at"] = int(sent) / 1000 if sent else None
    try:
        body = json.loads(message.get("Body", ""))
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("payload_s3"), str):
        base["payload_location"] = body["payload_s3"]
        body["payload_base64"] = ""
    if isinstance(body, dict) and isinstance(body.get("payload_base64"), str):
        try:
            payload = base64.b64decode(body["payload_base64"], validate=True)
        except (binascii.Error, ValueError):
            return Letter(**base, kind="unknown", reason="payload_base64 is not base64")
        seq = str(body.get("sequence_number") or "")
        return Letter(
            **base,
            kind="record",
            reason=str(body.get("reason") or "unknown reason"),
            shard_id=str(body.get("shard_id") or ""),
            first_sequence=seq,
            last_sequence=seq,
            partition_key=str(body.get("partition_key") or ""),
            payload=payload,
            stream_arn=str(body.get("event_source_arn") or ""),
        )
    info = body.get("KinesisBatchInfo") if isinstance(body, dict) else None
    if isinstance(info, dict) and info.get("shardId") and info.get("startSequenceNumber"):
        context = body.get("requestContext") if isinstance(body.get("requestContext"), dict) else {}
        return Letter(
            **base,
            kind="batch",
            reason=str(context.get("condition") or "batch failed"),
            shard_id=str(info["shardId"]),
            first_sequence=str(info["startSequenceNumber"]),
            last_sequence=str(info.get("endSequenceNumber") or info["startSequenceNumber"]),
            size=int(info.get("batchSize") or 1),
            stream_arn=str(info.get("streamArn") or ""),
        )
    return Letter(**base, kind="unknown", reason="not a Pulse dead letter")


def stream_name(letter: Letter, default: str) -> str:
    """The stream a letter came from (``arn:...:stream/<name>``), else the configured one."""
    _, _, name = letter.stream_arn.partition(":stream/")
    return name or default


# ---------------------------------------------------------------------------------------------- AWS side
class DeadLetterQueue:
    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs, self.url = sqs, url

    def read(self, limit: int | None = None) -> list[Letter]:
        """Every message (up to ``limit``), hidden from other readers until released or deleted."""
        letters: dict[str, Letter] = {}
        while limit is None or len(letters) < limit:
            response = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=SQS_BATCH,
                VisibilityTimeout=VISIBILITY_SECONDS,
                WaitTimeSeconds=1,  # long polling asks every server: an empty answer means empty
                AttributeNames=["SentTimestamp"],
            )
            messages = response.get("Messages", [])
            if not messages:
                break
            for message in messages:
                letters.setdefault(message["MessageId"], parse_letter(message))
        return list(letters.values())

    def release(self, letters: Sequence[Letter]) -> None:
        """Make messages visible again at once (they stay in the queue)."""
        for chunk in _chunks(letters):
            entries = [{"Id": str(i), "ReceiptHandle": x.receipt, "VisibilityTimeout": 0} for i, x in enumerate(chunk)]
            self.sqs.change_message_visibility_batch(QueueUrl=self.url, Entries=entries)

    def delete(self, letters: Sequence[Letter]) -> None:
        for chunk in _chunks(letters):
            entries = [{"Id": str(i), "ReceiptHandle": x.receipt} for i, x in enumerate(chunk)]
            self.sqs.delete_message_batch(QueueUrl=self.url, Entries=entries)


def _chunks(letters: Sequence[Letter]) -> list[Sequence[Letter]]:
    return [letters[i : i + SQS_BATCH] for i in range(0, len(letters), SQS_BATCH)]


def read_batch(kinesis: Any, stream: str, letter: Letter) -> list[tuple[str, bytes]]:
    """The records of a failed batch that the stream still holds, as (partition key, data)."""
    first, last = int(letter.first_sequence), int(letter.last_sequence)
    try:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream,
            ShardId=letter.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=letter.first_sequence,
        )["ShardIterator"]
    except ClientError:  # the shard or the position is gone (retention, resharding long ago)
        return []
    out: list[tuple[str, bytes]] = []
    while iterator:
        response = kinesis.get_records(ShardIterator=iterator, Limit=1000)
        for record in response["Records"]:
            seq = int(record["SequenceNumber"])
            if seq > last:
                return out
            if seq >= first:
                out.append((record["PartitionKey"], bytes(record["Data"])))
        if not response["Records"] and not response.get("MillisBehindLatest"):
            break  # at the tip of the shard
        iterator = response.get("NextShardIterator")
    return out


# ---------------------------------------------------------------------------------------------- commands
def describe(letter: Letter) -> str:
    sent = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(letter.sent_at)) if letter.sent_at else "?"
    if letter.kind == "record":
        preview = letter.payload_location or letter.payload[:120].decode("utf-8", "replace").replace("\n", " ")
        return (
            f"{sent}  record  {letter.reason}\n    user {letter.partition_key or '?'}  shard {letter.shard_id}"
            f"  seq {letter.first_sequence}\n    {preview}"
        )
    if letter.kind == "batch":
        return (
            f"{sent}  batch   {letter.reason}: {letter.size} records\n    shard {letter.shard_id}"
            f"  seq {letter.first_sequence} .. {letter.last_sequence}"
        )
    return f"{sent}  unknown {letter.reason} (message {letter.message_id})"


def summary(letters: Sequence[Letter]) -> str:
    reasons = Counter(f"{x.kind}: {x.reason}" for x in letters)
    records = sum(x.size for x in letters if x.kind == "batch")
    head = f"{len(letters)} dead letters ({records} records in failed batches)"
    return "\n".join([head, *(f"  {n:6}  {reason}" for reason, n in reasons.most_common())])


def cmd_list(queue: DeadLetterQueue, args: argparse.Namespace) -> int:
    letters = queue.read(args.limit)
    try:
        for letter in letters:
            if args.json:
                row = {k: v for k, v in letter.__dict__.items() if k not in ("receipt", "payload")}
                row["payload"] = letter.payload.decode("utf-8", "replace") if letter.kind == "record" else None
                print(json.dumps(row))
            else:
                print(describe(letter))
        print(summary(letters), file=sys.stderr if args.json else sys.stdout)
    finally:
        queue.release(letters)
    return 0


@dataclass
class ReplayReport:
    replayed_letters: int = 0
    replayed_records: int = 0
    kept: int = 0
    skipped: int = 0


def replay(
    queue: DeadLetterQueue,
    kinesis: Any,
    publisher: KinesisEventPublisher,
    default_stream: str,
    reason: str | None = None,
    dry_run: bool = False,
    say: Any = print,
) -> ReplayReport:
    """Put the selected letters' records back on the stream; delete exactly the letters fully put back."""
    report = ReplayReport()
    letters = queue.read()
    done: list[Letter] = []
    try:
        for letter in letters:
            if letter.kind == "unknown" or (reason and reason.lower() not in letter.reason.lower()):
                report.skipped += 1
                continue
            records, complete = _records_of(letter, kinesis, default_stream, say)
            if records and not dry_run:
                refused = set(publisher.publish(records))
                if refused:
                    say(
                        f"kept {letter.message_id}: {len(refused)} of {len(records)} records not accepted by the stream"
                    )
                    complete = False
                    records = [r for i, r in enumerate(records) if i not in refused]
            report.replayed_records += len(records)
            if complete:
                report.replayed_letters += 1
                done.append(letter)
            else:
                report.kept += 1
        verb = "would replay" if dry_run else "replayed"
        say(
            f"{verb} {report.replayed_records} records from {report.replayed_letters} letters; "
            f"kept {report.kept}; not selected {report.skipped}"
        )
    finally:
        if not dry_run:
            queue.delete(done)
        queue.release([x for x in letters if dry_run or x not in done])
    return report


def _records_of(letter: Letter, kinesis: Any, default_stream: str, say: Any) -> tuple[list[tuple[str, bytes]], bool]:
    """What to put back for a letter, and whether that is all of it."""
    if letter.kind == "record" and letter.payload_location:  # over SQS's 256 KB: never an event (10 KB)
        say(f"kept {letter.message_id}: its payload ({letter.payload_location}) is too large to be an event")
        return [], False
    if letter.kind == "record":
        try:
            event = parse_record(letter.payload)  # the updater's own check, at this clock
        except InvalidEvent as exc:
            say(f"kept {letter.message_id}: still invalid: {exc.reason}")
            return [], False
        return [(letter.partition_key or partition_key(event), letter.payload)], True
    try:
        records = read_batch(kinesis, stream_name(letter, default_stream), letter)
    except (ClientError, BotoCoreError) as exc:
        say(f"kept {letter.message_id}: could not read the stream: {exc}")
        return [], False
    if len(records) < letter.size:
        say(f"kept {letter.message_id}: the stream holds {len(records)} of its {letter.size} records (retention)")
        return records, False
    return records, True


# ---------------------------------------------------------------------------------------------- wiring
def locate(args: argparse.Namespace, sqs: Any) -> tuple[str, str]:
    """The queue URL and the stream name."""
    if args.stack:
        found = stack.outputs(args.stack, args.region)
        return found["DeadLetterQueueUrl"], found["EventStreamName"]
    url = args.queue_url or os.environ.get("DEAD_LETTER_QUEUE_URL")
    if not url:
        url = sqs.get_queue_url(QueueName=stack.local_name("DeadLetterQueue"))["QueueUrl"]
    return url, stack.event_stream(args.stream)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.dead_letters", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", help="a deployed stack's name: queue and stream from its outputs")
    parser.add_argument("--queue-url", help="the dead-letter queue (default: DEAD_LETTER_QUEUE_URL, else local)")
    parser.add_argument("--stream", help="the event stream (default: EVENT_STREAM, else the local stack's)")
    parser.add_argument("--region", default=stack.region())
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="print every dead letter and a count per reason; changes nothing")
    listing.add_argument("--limit", type=int, help="read at most this many messages")
    listing.add_argument("--json", action="store_true", help="one JSON object per letter (summary on stderr)")
    again = sub.add_parser("replay", help="put the letters' records back on the stream, then delete them")
    again.add_argument("--reason", help="only letters whose reason contains this text (case-insensitive)")
    again.add_argument("--dry-run", action="store_true", help="say what would be replayed; change nothing")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    sqs = client("sqs", args.region, endpoint)
    url, stream = locate(args, sqs)
    queue = DeadLetterQueue(sqs, url)
    if args.command == "list":
        return cmd_list(queue, args)
    settings = Settings.model_validate({**os.environ, "EVENT_STREAM": stream, "AWS_REGION": args.region})
    replay(
        queue,
        client("kinesis", args.region, endpoint),
        KinesisEventPublisher(settings),
        stream,
        args.reason,
        args.dry_run,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
