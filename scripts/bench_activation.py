"""Activation measured on the local stack (a script, not a test): ``make bench-activation``.

1. PutRecords -> the event on the example rule's SQS queue: a user's cart left for two hours (an
   ``add_to_cart`` then a ``view`` two hours later by event time) enters ``cart_abandoners``; the
   time from Kinesis accepting the ``view`` to the message arriving in ``CartAbandonersQueue``, over
   ``TRIALS`` users (the local stack polls the stream every ``--poll-interval`` seconds).
2. An audience export of ``--members`` members (100,000): the exporter's code with its real S3 writer
   (multipart, on moto in this process), members and profiles from in-memory stores; time and the
   peak of Python allocations while it runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time

from pulse.adapters.aws import KinesisEventPublisher
from pulse.config import Settings

TRIALS = 50


def export(members: int) -> None:
    import os
    import tracemalloc

    import boto3
    from moto import mock_aws

    from pulse.adapters.exports import S3ExportFiles
    from pulse.domain.exports import ExportJob, ExportRequest
    from pulse.domain.profile import UserProfile
    from pulse.domain.updater import ProfileState
    from pulse.ports import MemberPage, Membership, StoredProfile
    from pulse.services.exports import run_export

    class Audience:
        def members(self, segment: str, limit: int, start: dict | None) -> MemberPage:
            first = (start or {}).get("i", 0)
            last = min(first + limit, members)
            page = [Membership(f"user-{i:07d}-4f1c9a2e-7b3d-4e8f-a1c2", 0.0) for i in range(first, last)]
            return MemberPage(page, {"i": last} if last < members else None)

    profile = UserProfile.new("x", time.time(), 14.0)
    profile.behavior.counts = {"view": 40, "purchase": 3}
    profile.behavior.total_spend, profile.behavior.sessions = 123.45, 7
    profile.segments = ["new_users", "fan:Drama"]

    class Profiles:
        def load_many(self, user_ids: list[str]) -> dict[str, StoredProfile]:
            return {u: StoredProfile(ProfileState(profile), 1) for u in user_ids}

    class Jobs:
        def __init__(self) -> None:
            self.job = ExportJob.new("new_users", ExportRequest(fields=["total_spend", "purchases", "segments"]), 0.0)

        def put(self, job: ExportJob) -> None:
            self.job = job

        def get(self, export_id: str) -> ExportJob:
            return self.job

    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="bench-exports")
        files = S3ExportFiles(Settings.model_validate({"MODEL_BUCKET": "bench-exports", "AWS_REGION": "us-east-1"}))
        jobs = Jobs()
        tracemalloc.start()
        started = time.perf_counter()
        job = run_export(jobs, Audience(), Profiles(), files, jobs.job.export_id, time.time)  # type: ignore[arg-type]
        took = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    assert job is not None and job.status == "done", job
    print(f"export of {job.rows:,} members (csv, 3 fields): {took:.1f} s, peak Python allocations {peak:.1f} MB")


def main() -> None:
    from infrastructure.local_stack import LocalStack, LocalStackConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=TRIALS)
    parser.add_argument("--poll-interval", type=float, default=0.2)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--skip-stack", action="store_true", help="the export figure only")
    args = parser.parse_args()
    export(args.members)
    if args.skip_stack:
        return
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
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
