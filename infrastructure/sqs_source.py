"""Local emulation of an ``SQS`` event source (a Lambda event source mapping on a queue).

As Lambda polls: up to ``BatchSize`` messages (at most 10 a receive), invoked as one ``aws:sqs``
event; on success the messages are deleted, except those the function lists in
``batchItemFailures`` (with ``ReportBatchItemFailures``), which become visible again after the
queue's visibility timeout. A function error leaves the whole batch for another delivery. The queue's
own redrive policy (moto applies it) moves a message that keeps failing to its dead-letter queue.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any

from infrastructure.functions import FunctionError, SqsSource
from infrastructure.kinesis_source import Invoke

log = logging.getLogger("pulse.local.sqs")


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    attributes = message.get("Attributes", {})
    body = message.get("Body", "")
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", "0"),
            "SenderId": attributes.get("SenderId", "local"),
            "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", "0"),
        },
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class SqsEventSource:
    def __init__(self, source: SqsSource, queue_url: str, invoke: Invoke, sqs: Any, region: str) -> None:
        self.source = source
        self.queue_url = queue_url
        self.invoke = invoke
        self.sqs = sqs
        self.region = region

    def poll_once(self) -> int:
        """One receive and invocation; returns how many messages were handed to the function."""
        found = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(10, self.source.batch_size),
            AttributeNames=["All"],
        )
        messages = found.get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [sqs_record(m, self.source.queue_arn, self.region) for m in messages]}
        try:
            result = self.invoke(event)
        except FunctionError as exc:
            log.error(
                "%s: function error, the batch comes back after the visibility timeout: %s", self.source.name, exc
            )
            return len(messages)
        failed = set()
        if self.source.report_batch_item_failures and isinstance(result, dict):
            failed = {f.get("itemIdentifier") for f in result.get("batchItemFailures") or []}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def run(self, stop: threading.Event, interval: float = 0.2) -> None:
        while not stop.is_set():
            try:
                handled = self.poll_once()
            except Exception:  # the poller outlives a bad moment of the endpoint
                log.exception("%s: polling failed", self.source.name)
                handled = 0
            if not handled:
                stop.wait(interval)
