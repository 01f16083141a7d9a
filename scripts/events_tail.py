"""``pulse events tail``: the activation bus's events as they happen, one JSON object a line.

It subscribes for the time it runs: a temporary SQS queue (deleted after) and a rule on the stack's
bus that sends it every ``source: pulse`` event (optionally of one detail type or one segment). The
same works on the local stack (moto delivers to SQS targets) and on a deployed stack.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def pattern(detail_type: str | None = None, segment: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"source": ["pulse"]}
    if detail_type:
        found["detail-type"] = [detail_type]
    if segment:
        found["detail"] = {"segment": [segment]}
    return found


@contextmanager
def subscription(
    events: Any, sqs: Any, bus: str, event_pattern: dict[str, Any], only_from_rule: bool = True
) -> Iterator[str]:
    """A queue receiving the bus's matching events while the block runs (rule and queue removed after).
    ``only_from_rule``: the queue's policy admits that rule alone (moto cannot evaluate the condition:
    off on the local stack)."""
    name = f"pulse-tail-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule_arn = events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(event_pattern), State="ENABLED")[
        "RuleArn"
    ]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
            }
            | ({"Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}} if only_from_rule else {})
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "tail", "Arn": arn}])
    try:
        yield url
    finally:
        events.remove_targets(Rule=name, EventBusName=bus, Ids=["tail"])
        events.delete_rule(Name=name, EventBusName=bus)
        sqs.delete_queue(QueueUrl=url)


def receive(sqs: Any, url: str, wait: int = 1) -> list[dict[str, Any]]:
    """The events that arrived (removed from the queue)."""
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get("Messages", [])
    if found:
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(found)]
        )
    return [json.loads(m["Body"]) for m in found]


def tail(
    events: Any,
    sqs: Any,
    bus: str,
    event_pattern: dict[str, Any],
    show: Callable[[dict[str, Any]], None],
    seconds: float | None = None,
    count: int | None = None,
    ready: Callable[[], None] = lambda: None,
    only_from_rule: bool = True,
) -> int:
    """Shows events until ``seconds`` pass, ``count`` arrived, or Ctrl-C; returns how many."""
    shown = 0
    deadline = None if seconds is None else time.monotonic() + seconds
    with subscription(events, sqs, bus, event_pattern, only_from_rule) as url:
        ready()
        try:
            while (deadline is None or time.monotonic() < deadline) and (count is None or shown < count):
                for event in receive(sqs, url):
                    show(event)
                    shown += 1
        except KeyboardInterrupt:
            pass
    return shown
