"""Activation measured on the local stack (a script, not a test): ``make bench-activation``.

1. PutRecords -> the event on the example rule's SQS queue: a user's cart left for two hours (an
   ``add_to_cart`` then a ``view`` two hours later by event time) enters ``cart_abandoners``; the
   time from Kinesis accepting the ``view`` to the message arriving in ``CartAbandonersQueue``, over
   ``TRIALS`` users (the local stack polls the stream every ``--poll-interval`` seconds).
2. Exporting is not measured here (see docs/activation.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from pulse.adapters.aws import KinesisEventPublisher
from pulse.config import Settings

TRIALS = 50


def main() -> None:
    from infrastructure.local_stack import LocalStack, LocalStackConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=TRIALS)
    parser.add_argument("--poll-interval", type=float, default=0.2)
    args = parser.parse_args()
    config = LocalStackConfig(
        aws_port=5470,
        api_port=3470,
        poll_interval=args.poll_interval,
        parameters={"ActivationRulesState": "ENABLED"},
        fire_schedules=False,
    )
    config.stack_name = "pulse-bench-activation"
    took: list[float] = []
    with LocalStack(config) as stack:
        outputs = stack.outputs()
        sqs = stack.client("sqs")
        queue = outputs["CartAbandonersQueueUrl"]
        publisher = KinesisEventPublisher(
            Settings.model_validate({"EVENT_STREAM": outputs["EventStreamName"]}), kinesis=stack.client("kinesis")
        )
        t0 = time.time() - 86400
        for n in range(args.trials):
            user = f"bench-{n}"

            def put(kind: str, at: float, item: str, user: str = user, n: int = n) -> float:
                event = {
                    "event_id": f"{user}-{kind}",
                    "event_type": kind,
                    "user_id": user,
                    "timestamp": at,
                    "item_id": item,
                }
                assert not publisher.publish([(user, json.dumps(event).encode())])
                return time.perf_counter()

            put("add_to_cart", t0 + n, "i1")
            time.sleep(0.5)  # the cart event applied first (its own batch)
            sent = put("view", t0 + n + 7200, "i2")
            while True:
                found = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, WaitTimeSeconds=1).get(
                    "Messages", []
                )
                if found:
                    body = json.loads(found[0]["Body"])
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=found[0]["ReceiptHandle"])
                    assert body["detail"]["user_id"] == user, body
                    took.append(time.perf_counter() - sent)
                    break
    took.sort()
    p95 = took[max(0, int(0.95 * len(took)) - 1)]
    print(
        f"PutRecords -> CartAbandonersQueue, {len(took)} trials, poll interval {args.poll_interval} s: "
        f"p50 {statistics.median(took) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {took[-1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
