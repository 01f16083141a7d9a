"""Benchmark of the profile updater (a script, not a test): ``make bench``.

Reports, for batch sizes 100 and 1,000 with 100 and 10,000 distinct users:
- events/s through the domain code (parse, group by user, apply; profiles kept in memory);
- the same with the store's codec (every profile decoded from its compressed bytes on each batch),
  and with the codec behind the updater's cache of the profiles it wrote (``UPDATER_PROFILE_CACHE_MB``'s
  default), as deployed;
- events/s through the Lambda handler on moto (in-process DynamoDB and SQS);
- DynamoDB write calls per batch (counted at pynamodb's dispatch), against users per batch.
The process first imports the updater's handler module and freezes the heap, as a container does
(``pulse.heap``); ``--no-settle`` leaves it out.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "PulseBench")
for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
    os.environ.setdefault(key, "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_ENDPOINT_URL", None)

from pulse import heap  # noqa: E402
from pulse.adapters.codec import decode_state, encode_state  # noqa: E402
from pulse.config import Settings  # noqa: E402
from pulse.domain.updater import ProfileUpdate  # noqa: E402
from pulse.ports import DeadLetter, DeadLetterSink, ProfileStore, StoredProfile  # noqa: E402
from pulse.services.ingest import StreamRecord, process_batch  # noqa: E402
from pulse.services.profile_cache import updater_store  # noqa: E402

KINDS = ["view"] * 6 + ["click", "add_to_cart", "purchase", "rate", "like", "search", "ad_impression"]
CONCURRENCY = (1, 2, 4, 8)
WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


def make_events(n: int, users: int, seed: int, start: float) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = rng.choice(KINDS)
        event: dict[str, Any] = {
            "event_id": f"{seed}-{i}",
            "event_type": kind,
            "user_id": f"user-{rng.randrange(users)}",
            "timestamp": start + i * 0.01,
            "session_id": f"s{rng.randrange(users * 3)}",
        }
        if kind == "search":
            event["query"] = f"query {rng.randrange(1000)}"
        else:
            event["item_id"] = f"item-{rng.randrange(20_000)}"
            event["item"] = {
                "category": [f"cat{rng.randrange(40)}"],
                "brand": f"brand{rng.randrange(200)}",
                "price": round(rng.uniform(2, 400), 2),
            }
        if kind == "rate":
            event["value"] = rng.randint(1, 5)
        if kind == "purchase":
            event["value"] = event["item"]["price"]
        out.append(json.dumps(event).encode())
    return out


class InMemoryStore(ProfileStore):
    """Keeps profiles as objects, or (``codec=True``) as the compressed bytes DynamoDB would hold.
    ``read_ms`` / ``write_ms`` wait like DynamoDB's round trips (GIL released, as on a socket)."""

    def __init__(self, codec: bool = False, read_ms: float = 0.0, write_ms: float = 0.0) -> None:
        self.items: dict[str, Any] = {}
        self.codec = codec
        self.read_s, self.write_s = read_ms / 1000, write_ms / 1000

    def load(self, user_id: str) -> StoredProfile | None:
        if self.read_s:
            time.sleep(self.read_s)
        found = self.items.get(user_id)
        if found is None or not self.codec:
            return found
        return StoredProfile(decode_state(found[0]), found[1])

    def save(self, update: ProfileUpdate, expected_version: int | None) -> None:
        if self.write_s:
            time.sleep(self.write_s)
        state, user = update.state, update.state.profile.user_id
        self.items[user] = (
            (encode_state(state), state.profile.version) if self.codec else StoredProfile(state, state.profile.version)
        )

    def erase(self, user_id: str) -> bool:
        return self.items.pop(user_id, None) is not None


class NoLetters(DeadLetterSink):
    def send(self, letters: Sequence[DeadLetter]) -> list[DeadLetter]:
        return []


def records(payloads: list[bytes], first_seq: int) -> list[StreamRecord]:
    return [StreamRecord("shardId-000000000000", str(first_seq + i), p) for i, p in enumerate(payloads)]


def bench_domain(
    batch: int,
    users: int,
    total: int,
    codec: bool = False,
    round_trip_ms: float = 0.0,
    concurrency: int = 1,
    cached: bool = False,
) -> float:
    payloads = make_events(total, users, seed=batch + users, start=time.time() - 86400)
    store: ProfileStore = InMemoryStore(codec, round_trip_ms, 2 * round_trip_ms)
    if cached:  # as the updater's wiring builds it, with the template's defaults
        defaults = Settings.model_validate({})
        store = updater_store(store, defaults.updater_profile_cache_mb, defaults.updater_profile_cache_seconds)
    letters = NoLetters()
    started = time.perf_counter()
    for start in range(0, total, batch):
        batch_records = records(payloads[start : start + batch], start + 1)
        process_batch(batch_records, store, letters, half_life_days=14, concurrency=concurrency)
    return total / (time.perf_counter() - started)


def bench_handler(batch: int, users: int, batches: int) -> tuple[float, float, float]:
    from pynamodb.connection.base import Connection

    from infrastructure.functions import LambdaContext
    from infrastructure.inprocess import function_on_moto

    calls: Counter[str] = Counter()
    original = Connection.dispatch

    def counting(self: Connection, operation_name: str, operation_kwargs: dict[str, Any]) -> dict[str, Any]:
        calls[operation_name] += 1
        return original(self, operation_name, operation_kwargs)

    with function_on_moto("ProfileUpdaterFunction") as (spec, handler):
        # the template's log level (INFO) came with the function's environment: keep the table readable
        logging.getLogger(spec.environment.get("POWERTOOLS_SERVICE_NAME", "pulse")).setLevel(logging.ERROR)
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        payloads = make_events(batch * batches, users, seed=7, start=time.time() - 86400)
        Connection.dispatch = counting  # type: ignore[method-assign]
        writes_per_batch, users_per_batch = [], []
        started = time.perf_counter()
        try:
            for b in range(batches):
                chunk = payloads[b * batch : (b + 1) * batch]
                users_per_batch.append(len({json.loads(p)["user_id"] for p in chunk}))
                event = {
                    "Records": [
                        {
                            "kinesis": {
                                "kinesisSchemaVersion": "1.0",
                                "partitionKey": "k",
                                "sequenceNumber": str(b * batch + i + 1),
                                "data": base64.b64encode(p).decode(),
                                "approximateArrivalTimestamp": time.time(),
                            },
                            "eventSource": "aws:kinesis",
                            "eventVersion": "1.0",
                            "eventID": f"shardId-000000000000:{b * batch + i + 1}",
                            "eventName": "aws:kinesis:record",
                            "invokeIdentityArn": "arn:aws:iam::123456789012:role/r",
                            "awsRegion": "us-east-1",
                            "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s",
                        }
                        for i, p in enumerate(chunk)
                    ]
                }
                before = sum(calls[op] for op in WRITE_OPS)
                result = handler(event, LambdaContext.for_spec(spec))
                assert result == {"batchItemFailures": []}, result
                writes_per_batch.append(sum(calls[op] for op in WRITE_OPS) - before)
            elapsed = time.perf_counter() - started
        finally:
            Connection.dispatch = original  # type: ignore[method-assign]
    return batch * batches / elapsed, sum(writes_per_batch) / batches, sum(users_per_batch) / batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain-events", type=int, default=50_000)
    parser.add_argument("--handler-batches", type=int, default=2)
    parser.add_argument("--skip-handler", action="store_true", help="domain figures only (fast)")
    parser.add_argument(
        "--no-settle",
        action="store_true",
        help="leave the heap as it is (by default the updater's modules are imported and frozen, as in Lambda)",
    )
    parser.add_argument(
        "--round-trip-ms",
        type=float,
        default=5.0,
        help="DynamoDB read round trip for the concurrency table; a write takes twice as long (0: skip)",
    )
    args = parser.parse_args()
    if not args.no_settle:
        import functions.profile_updater.app  # noqa: F401  # the heap an updater container has

        heap.settle(force=True)  # what the updater does once its dependencies are built (pulse.heap)
    print(
        f"{'batch':>6} {'users':>7} {'domain ev/s':>12} {'+codec ev/s':>12} {'+codec cached':>14} "
        f"{'handler ev/s (moto)':>20} {'writes/batch':>13} {'users/batch':>12}"
    )
    for batch in (100, 1000):
        for users in (100, 10_000):
            domain = bench_domain(batch, users, args.domain_events)
            codec = bench_domain(batch, users, args.domain_events, codec=True)
            cached = bench_domain(batch, users, args.domain_events, codec=True, cached=True)
            handler, writes, distinct = (float("nan"),) * 3
            if not args.skip_handler:
                handler, writes, distinct = bench_handler(batch, users, args.handler_batches)
            print(
                f"{batch:>6} {users:>7} {domain:>12,.0f} {codec:>12,.0f} {cached:>14,.0f} {handler:>20,.0f} "
                f"{writes:>13.1f} {distinct:>12.1f}",
                flush=True,
            )
    if not args.round_trip_ms:
        return
    # The updater's own CPU (domain + codec) with DynamoDB's round trips as waits: what
    # UpdaterUserConcurrency overlaps. moto cannot show it: its work is CPU in this very process.
    print(
        f"\ndomain + codec, reads {args.round_trip_ms:g} ms and writes {2 * args.round_trip_ms:g} ms "
        "(events/s by UpdaterUserConcurrency)"
    )
    print(f"{'batch':>6} {'users':>7} " + " ".join(f"{c:>8}" for c in CONCURRENCY))
    for batch, users in ((100, 10_000), (500, 10_000), (500, 100)):
        total = max(batch * 4, min(args.domain_events, 2_000))
        rates = [bench_domain(batch, users, total, True, args.round_trip_ms, c) for c in CONCURRENCY]
        print(f"{batch:>6} {users:>7} " + " ".join(f"{r:>8,.0f}" for r in rates), flush=True)


if __name__ == "__main__":
    main()
