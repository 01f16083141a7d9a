"""Dead letters on moto with the template's queue and stream: listed without being consumed, and
replayed onto the stream so that every event reaches its profile exactly once."""

import base64
import json
import time
from dataclasses import replace
from typing import Any

import pytest

from infrastructure.functions import FunctionError, KinesisSource
from infrastructure.kinesis_source import KinesisEventSource
from pulse.adapters.aws import KinesisEventPublisher
from pulse.config import get_settings
from scripts import dead_letters as dl
from tests.conftest import AwsStack
from tests.fakes import ThrottlingStore
from tests.integration.kit import Api, ev, profile


@pytest.fixture
def wired(aws_stack: AwsStack):
    """The updater behind a local event source mapping (1 retry, then the on-failure destination)."""
    handler = aws_stack.handler("ProfileUpdaterFunction")
    provider = aws_stack.dependencies("ProfileUpdaterFunction")
    stream, url = aws_stack.env["EVENT_STREAM"], aws_stack.env["DEAD_LETTER_QUEUE_URL"]
    source = KinesisSource(
        "S",
        stream,
        f"arn:aws:kinesis:us-east-1:123456789012:stream/{stream}",
        batch_size=100,
        starting_position="TRIM_HORIZON",
        report_batch_item_failures=True,
        max_retries=1,
        bisect=True,
        on_failure_arn="arn:aws:sqs:us-east-1:123456789012:dlq",
    )
    kinesis, sqs = aws_stack.client("kinesis"), aws_stack.client("sqs")

    def invoke(event: dict[str, Any]) -> Any:
        try:
            return handler(event, aws_stack.context("ProfileUpdaterFunction"))
        except Exception as exc:  # a function error, as Lambda reports it to the event source mapping
            raise FunctionError(str(exc)) from exc

    mapping = KinesisEventSource(
        source,
        "arn:fn",
        invoke,
        kinesis,
        sqs,
        retry_delay=0,
        destination_url=url,
    )

    def drain() -> None:
        while mapping.poll_once():
            pass

    queue = dl.DeadLetterQueue(sqs, url)
    publisher = KinesisEventPublisher(get_settings(), sleep=lambda _: None)
    return provider, drain, queue, kinesis, publisher, stream


def put(kinesis: Any, stream: str, payloads: list[Any]) -> list[dict[str, str]]:
    """Put on one shard; returns each record's ``ShardId`` and ``SequenceNumber``."""
    out = []
    for p in payloads:
        data = p if isinstance(p, bytes) else json.dumps(p).encode()
        out.append(kinesis.put_record(StreamName=stream, Data=data, PartitionKey="one-shard"))
    return out


def visible(queue: dl.DeadLetterQueue) -> int:
    attrs = queue.sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def test_a_batch_that_ran_out_of_retries_is_replayed_and_applied_exactly_once(aws_stack, wired) -> None:
    provider, drain, queue, kinesis, publisher, stream = wired
    # Given ben's writes throttled through every retry: his records and all later ones of the shard fail
    users = ["ann", "ben", "cat"]
    payloads = [ev(i, users[i % 3], "purchase", value=10.0) for i in range(9)]
    put(kinesis, stream, payloads)
    healthy = provider()
    with provider.override(replace(healthy, store=ThrottlingStore(healthy.store, user="ben", times=10**6))):
        drain()
    [letter] = queue.read()
    queue.release([letter])
    # one batch from ben's first record on: failed, as a whole, without bisection (no function error)
    assert letter.kind == "batch" and letter.reason == "RetryAttemptsExhausted" and letter.size == 8
    api = Api(aws_stack)
    assert profile(api, "ben")[0] == 404
    # ann's later records are in the failed range too, but were applied in the first attempt
    assert profile(api, "ann")[1]["behavior"]["counts"] == {"purchase": 3}

    # When DynamoDB is healthy again and the dead letters are replayed
    report = dl.replay(queue, kinesis, publisher, stream, say=lambda _: None)
    drain()

    # Then the 8 records went back on the stream, ben's events are applied, nobody's twice, queue empty
    assert (report.replayed_letters, report.replayed_records, report.kept) == (1, 8, 0)
    for user in users:
        status, body = profile(api, user)
        assert status == 200 and body["behavior"]["counts"] == {"purchase": 3}
        assert body["behavior"]["total_spend"] == 30.0
    assert visible(queue) == 0


class Clock:
    """The processors' clock (event validation, the updater), moved forward by hand."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return REAL_TIME() + self.offset


REAL_TIME = time.time


def test_rejected_records_are_replayed_only_once_they_pass_validation(aws_stack, wired, monkeypatch) -> None:
    _, drain, queue, kinesis, publisher, stream = wired
    clock = Clock()
    monkeypatch.setattr("pulse.domain.events.time", clock)
    monkeypatch.setattr("pulse.domain.records.time", clock)
    monkeypatch.setattr("pulse.services.ingest.time", clock)
    # Given a record from a producer whose clock ran 10 minutes ahead, and one that is not JSON
    ahead = ev(1, "dan", "like") | {"timestamp": time.time() + 600}
    put(kinesis, stream, [ahead, b"\x00not json", ev(2, "dan")])
    drain()
    api = Api(aws_stack)
    assert profile(api, "dan")[1]["behavior"]["counts"] == {"view": 1}

    # When listed, nothing is consumed
    letters = queue.read()
    queue.release(letters)
    assert sorted(x.kind for x in letters) == ["record", "record"] and visible(queue) == 2
    assert any("ahead of the processor" in x.reason for x in letters)

    # When replayed now: both fail validation again and stay, with their reasons said
    said: list[str] = []
    report = dl.replay(queue, kinesis, publisher, stream, say=said.append)
    assert (report.replayed_records, report.kept) == (0, 2) and visible(queue) == 2
    assert sum("still invalid" in line for line in said) == 2

    # When replayed once the clock has caught up, but only the letters about the clock
    clock.offset = 900.0
    report = dl.replay(queue, kinesis, publisher, stream, reason="AHEAD OF", say=said.append)
    drain()
    assert (report.replayed_records, report.kept, report.skipped) == (1, 0, 1)
    assert profile(api, "dan")[1]["behavior"]["counts"] == {"view": 1, "like": 1}
    [left] = queue.read()
    assert left.payload == b"\x00not json" and left.partition_key == "one-shard"


def test_dry_run_and_an_incomplete_batch_change_nothing_that_is_not_put_back(aws_stack, wired) -> None:
    _, drain, queue, kinesis, publisher, stream = wired
    records = put(kinesis, stream, [ev(i, "eve") for i in range(3)])
    shard = records[0]["ShardId"]
    drain()
    # Given an on-failure message naming 5 records where the stream still holds only 3
    info = {
        "shardId": shard,
        "startSequenceNumber": records[0]["SequenceNumber"],
        "endSequenceNumber": records[-1]["SequenceNumber"],
        "batchSize": 5,
        "streamArn": f"arn:aws:kinesis:us-east-1:123456789012:stream/{stream}",
    }
    body = {"requestContext": {"condition": "RecordAgeExceeded"}, "KinesisBatchInfo": info}
    queue.sqs.send_message(QueueUrl=queue.url, MessageBody=json.dumps(body))
    queue.sqs.send_message(QueueUrl=queue.url, MessageBody="something else entirely")

    dry = dl.replay(queue, kinesis, publisher, stream, dry_run=True, say=lambda _: None)
    assert (dry.replayed_records, dry.kept, dry.skipped) == (3, 1, 1) and visible(queue) == 2
    assert _stream_size(kinesis, stream, shard) == 3  # a dry run puts nothing on the stream

    report = dl.replay(queue, kinesis, publisher, stream, say=lambda _: None)
    assert (report.replayed_records, report.replayed_letters, report.kept) == (3, 0, 1)
    assert _stream_size(kinesis, stream, shard) == 6 and visible(queue) == 2  # what is left is kept
    drain()
    assert profile(Api(aws_stack), "eve")[1]["behavior"]["counts"] == {"view": 3}  # replays apply once


def _stream_size(kinesis: Any, stream: str, shard: str) -> int:
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return len(kinesis.get_records(ShardIterator=it["ShardIterator"], Limit=1000)["Records"])


def test_letters_of_both_kinds_and_foreign_messages_parse() -> None:
    payload = b'{"event_id": "x"}'
    record = {
        "reason": "event_type is required",
        "shard_id": "shardId-000000000001",
        "sequence_number": "42",
        "partition_key": "u1",
        "event_source_arn": "arn:aws:kinesis:eu-west-1:1:stream/events",
        "payload_base64": base64.b64encode(payload).decode(),
    }
    msg = {"MessageId": "m", "ReceiptHandle": "r", "Attributes": {"SentTimestamp": "1700000000000"}}
    letter = dl.parse_letter(msg | {"Body": json.dumps(record)})
    assert (letter.kind, letter.payload, letter.partition_key, letter.sent_at) == ("record", payload, "u1", 1.7e9)
    assert dl.stream_name(letter, "default") == "events" and "event_type is required" in dl.describe(letter)
    bad = dl.parse_letter(msg | {"Body": json.dumps(record | {"payload_base64": "%%%"})})
    assert bad.kind == "unknown"
    batch = dl.parse_letter(
        msg
        | {
            "Body": json.dumps(
                {
                    "requestContext": {"condition": "RetryAttemptsExhausted"},
                    "KinesisBatchInfo": {"shardId": "s", "startSequenceNumber": "1", "endSequenceNumber": "9"},
                }
            )
        }
    )
    assert (batch.kind, batch.first_sequence, batch.last_sequence, batch.size) == ("batch", "1", "9", 1)
    assert dl.stream_name(batch, "default") == "default"
    assert dl.parse_letter(msg | {"Body": "[1, 2]"}).kind == "unknown"
    text = dl.summary([letter, letter, batch])
    assert text.startswith("3 dead letters (1 records in failed batches)") and "2  record: event_type" in text
