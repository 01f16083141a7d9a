"""The local stack's Kinesis event source mapping behaves like Lambda's (against moto)."""

import base64
import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infrastructure.functions import FunctionError, KinesisSource
from infrastructure.kinesis_source import KinesisEventSource

STREAM = "s"
ARN = f"arn:aws:kinesis:us-east-1:123456789012:stream/{STREAM}"


@pytest.fixture
def aws():
    with mock_aws():
        kinesis = boto3.client("kinesis", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)
        url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        yield kinesis, sqs, url


def put(kinesis: Any, n: int) -> list[str]:
    return [
        kinesis.put_record(StreamName=STREAM, Data=json.dumps({"n": i}).encode(), PartitionKey="u")["SequenceNumber"]
        for i in range(n)
    ]


def source(**overrides: Any) -> KinesisSource:
    settings: dict[str, Any] = dict(
        name="Test",
        stream=STREAM,
        stream_arn=ARN,
        batch_size=10,
        starting_position="TRIM_HORIZON",
        report_batch_item_failures=True,
        max_retries=3,
        bisect=True,
    )
    settings.update(overrides)
    return KinesisSource(**settings)


class Recorder:
    def __init__(self, behaviour=None):
        self.batches: list[list[int]] = []
        self.behaviour = behaviour

    def __call__(self, event: dict[str, Any]) -> Any:
        numbers = [json.loads(base64.b64decode(r["kinesis"]["data"]))["n"] for r in event["Records"]]
        self.batches.append(numbers)
        return self.behaviour(event, numbers) if self.behaviour else {"batchItemFailures": []}


def test_batch_reaches_the_handler_in_lambda_shape(aws) -> None:
    kinesis, sqs, _url = aws
    seqs = put(kinesis, 5)
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event)
        return {}

    mapping = KinesisEventSource(source(), "arn:fn", handler, kinesis, sqs)
    assert mapping.poll_once() == 5
    record = seen[0]["Records"][0]
    assert record["eventSource"] == "aws:kinesis" and record["eventSourceARN"] == ARN
    assert record["eventID"] == f"shardId-000000000000:{seqs[0]}"
    assert record["kinesis"]["sequenceNumber"] == seqs[0] and record["kinesis"]["partitionKey"] == "u"
    assert json.loads(base64.b64decode(record["kinesis"]["data"])) == {"n": 0}
    assert mapping.poll_once() == 0  # checkpointed: nothing is delivered twice


def test_batch_size_is_honoured(aws) -> None:
    kinesis, sqs, _ = aws
    put(kinesis, 25)
    rec = Recorder()
    mapping = KinesisEventSource(source(batch_size=10), "arn:fn", rec, kinesis, sqs)
    while mapping.poll_once():
        pass
    assert [len(b) for b in rec.batches] == [10, 10, 5]


def test_reported_failure_makes_the_next_delivery_start_at_that_record(aws) -> None:
    kinesis, sqs, _ = aws
    seqs = put(kinesis, 6)
    failed_once = {"done": False}

    def fail_at_3(event, numbers):
        if not failed_once["done"]:
            failed_once["done"] = True
            return {"batchItemFailures": [{"itemIdentifier": seqs[4]}, {"itemIdentifier": seqs[3]}]}
        return {"batchItemFailures": []}

    rec = Recorder(fail_at_3)
    KinesisEventSource(source(), "arn:fn", rec, kinesis, sqs, retry_delay=0).poll_once()
    assert rec.batches == [[0, 1, 2, 3, 4, 5], [3, 4, 5]]


def test_function_error_bisects_and_exhausted_retries_go_to_destination(aws) -> None:
    kinesis, sqs, url = aws
    put(kinesis, 4)

    def poison(event, numbers):
        if 2 in numbers:
            raise FunctionError("boom")
        return {}

    rec = Recorder(poison)
    mapping = KinesisEventSource(source(max_retries=1), "arn:fn", rec, kinesis, sqs, destination_url=url, retry_delay=0)
    mapping.poll_once()
    assert rec.batches[0] == [0, 1, 2, 3]
    assert [0, 1] in rec.batches and [3] in rec.batches
    assert rec.batches.count([2]) == 2  # first try + one retry
    message = json.loads(sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"])
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["KinesisBatchInfo"]["batchSize"] == 1 and message["KinesisBatchInfo"]["streamArn"] == ARN


def test_malformed_failure_report_retries_the_whole_batch(aws) -> None:
    kinesis, sqs, _ = aws
    put(kinesis, 3)
    calls = {"n": 0}

    def bad_report(event, numbers):
        calls["n"] += 1
        return {"batchItemFailures": [{"itemIdentifier": "nope"}]} if calls["n"] == 1 else {}

    rec = Recorder(bad_report)
    KinesisEventSource(source(), "arn:fn", rec, kinesis, sqs, retry_delay=0).poll_once()
    assert rec.batches == [[0, 1, 2], [0, 1, 2]]


def test_old_records_are_skipped_to_the_destination(aws) -> None:
    kinesis, sqs, url = aws
    put(kinesis, 2)
    rec = Recorder()
    mapping = KinesisEventSource(source(max_record_age=0), "arn:fn", rec, kinesis, sqs, destination_url=url)
    import time

    time.sleep(0.05)
    mapping.poll_once()
    assert rec.batches == []
    body = json.loads(sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"])
    assert body["requestContext"]["condition"] == "RecordAgeExceeded"
