"""Activation on moto: a user entering cart_abandoners reaches the example rule's SQS queue once, as
an EventBridge event from the stack's bus; the risk rule's topic gets the bot's raised flag."""

import json
from typing import Any

from pulse.adapters.tables import outbox_partition
from tests.conftest import AwsStack
from tests.integration.kit import T0, kinesis_event


def test_entering_cart_abandoners_is_delivered_once_to_the_example_queue(aws_stack: AwsStack) -> None:
    events, sqs = aws_stack.client("events"), aws_stack.client("sqs")
    bus = aws_stack.stack.resources["ActivationBus"].ref
    rule = aws_stack.stack.resources["CartAbandonersRule"].ref
    events.enable_rule(Name=rule, EventBusName=bus)  # the example rules are off by default
    queue = aws_stack.stack.resources["CartAbandonersQueue"].ref
    updater, context = aws_stack.handler("ProfileUpdaterFunction"), aws_stack.context("ProfileUpdaterFunction")

    def event(n: int, kind: str, at: float, **extra: Any) -> dict[str, Any]:
        return {"event_id": f"e{n}", "event_type": kind, "user_id": "ann", "timestamp": T0 + at} | extra

    updater(kinesis_event([event(1, "add_to_cart", 0, item_id="i1")]), context)
    later = kinesis_event([event(2, "view", 7200, item_id="i2")], first_seq=2)
    assert updater(later, context) == {"batchItemFailures": []}
    updater(later, context)  # Lambda delivered the batch again: no second event
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    assert len(messages) == 1
    body = json.loads(messages[0]["Body"])
    assert body["source"] == "pulse" and body["detail-type"] == "segment.membership"
    detail = body["detail"]
    assert (detail["user_id"], detail["segment"], detail["change"]) == ("ann", "cart_abandoners", "enter")
    assert detail["features"]["cart_items"] == 1 and detail["notice_id"].startswith("ann:")
    outbox = aws_stack.client("dynamodb").query(
        TableName=aws_stack.env["SEGMENTS_TABLE"],
        KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "segment"},
        ExpressionAttributeValues={":s": {"S": outbox_partition("ann")}},
    )
    assert outbox["Count"] == 0  # published, so gone from the outbox


def test_events_tail_shows_what_the_bus_carries_while_it_runs(aws_stack: AwsStack) -> None:
    from scripts.events_tail import pattern, tail

    events, sqs = aws_stack.client("events"), aws_stack.client("sqs")
    bus = aws_stack.stack.resources["ActivationBus"].ref
    updater, context = aws_stack.handler("ProfileUpdaterFunction"), aws_stack.context("ProfileUpdaterFunction")
    clicks = [
        {"event_id": f"c{k}", "event_type": "ad_click", "user_id": "bot", "timestamp": T0 + k, "item_id": "ad"}
        for k in range(4)
    ]
    shown: list[dict[str, Any]] = []
    count = tail(
        events,
        sqs,
        bus,
        pattern("risk.changed"),
        show=shown.append,
        seconds=5,
        count=1,
        ready=lambda: updater(kinesis_event(clicks), context),
        only_from_rule=False,  # moto cannot evaluate the policy's condition
    )
    assert count == 1 and shown[0]["detail"]["change"] == "raised" and shown[0]["detail"]["user_id"] == "bot"
    assert not [q for q in sqs.list_queues().get("QueueUrls", []) if "pulse-tail-" in q]  # cleaned up
