"""Live popularity counters on DynamoDB (``pulse.domain.activity``).

Row: ``bucket`` (hash key: the hour or day bucket plus one of ``SHARDS`` shards of the item id, so no
bucket is one hot partition), ``item_id`` (range key), ``weight`` and ``events`` (added with ``ADD``,
so concurrent updaters never lose a count), ``expires_at`` (TTL: rows leave once no window reaches
them). A window's totals are one Query per bucket and shard.
"""

from __future__ import annotations

from binascii import crc32
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pulse.adapters.aws import client
from pulse.config import Settings
from pulse.domain.activity import Tally
from pulse.ports import ActivityStore, TransientFailure

SHARDS = 4
WRITERS = 8  # concurrent UpdateItem calls (the SDK's connection pool holds 10)


def partition(bucket: str, item_id: str) -> str:
    return f"{bucket}#{crc32(item_id.encode()) % SHARDS}"


class DynamoActivityStore(ActivityStore):
    def __init__(self, settings: Settings) -> None:
        self._ddb = client("dynamodb", settings.region, settings.endpoint_url)
        self._table = settings.activity_table

    def _add_one(self, key: tuple[str, str], row: Tally) -> bool:
        bucket, item_id = key
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"bucket": {"S": partition(bucket, item_id)}, "item_id": {"S": item_id}},
                UpdateExpression="ADD weight :w, events :n SET expires_at = :e",
                ExpressionAttributeValues={
                    ":w": {"N": repr(round(row.weight, 6))},
                    ":n": {"N": str(row.events)},
                    ":e": {"N": str(row.expires_at)},
                },
            )
        except (ClientError, BotoCoreError):
            return False
        return True

    def add(self, tallies: dict[tuple[str, str], Tally]) -> int:
        if not tallies:
            return 0
        rows = list(tallies.items())
        if len(rows) == 1:
            return 0 if self._add_one(*rows[0]) else 1
        with ThreadPoolExecutor(min(WRITERS, len(rows)), thread_name_prefix="activity") as pool:
            written = list(pool.map(lambda kv: self._add_one(*kv), rows))
        return written.count(False)

    def totals(self, buckets: Sequence[str]) -> dict[str, float]:
        out: dict[str, float] = {}
        for bucket in buckets:
            for shard in range(SHARDS):
                for row in self._query(f"{bucket}#{shard}"):
                    item = row["item_id"]["S"]
                    out[item] = out.get(item, 0.0) + float(row["weight"]["N"])
        return out

    def add_counts(self, bucket: str, row: str, counts: dict[str, int], expires_at: int) -> bool:
        names = sorted(counts)
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"bucket": {"S": partition(bucket, row)}, "item_id": {"S": row}},
                UpdateExpression="ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(names))) + " SET expires_at = :e",
                ExpressionAttributeNames={f"#c{i}": name for i, name in enumerate(names)},
                ExpressionAttributeValues={f":c{i}": {"N": str(counts[name])} for i, name in enumerate(names)}
                | {":e": {"N": str(expires_at)}},
            )
        except (ClientError, BotoCoreError):
            return False
        return True

    def counts(self, buckets: Sequence[str], row: str) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for start in range(0, len(buckets), 100):  # BatchGetItem takes 100 keys
            keys = [{"bucket": {"S": partition(b, row)}, "item_id": {"S": row}} for b in buckets[start : start + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys}}
            for _ in range(5):  # keys DynamoDB left unprocessed (throttling) are asked for again
                try:
                    answer = self._ddb.batch_get_item(RequestItems=request)
                except (ClientError, BotoCoreError) as exc:
                    raise TransientFailure(f"activity: {exc}") from exc
                for item in answer.get("Responses", {}).get(self._table, []):
                    bucket = item["bucket"]["S"].rpartition("#")[0]
                    skip = ("bucket", "item_id", "expires_at")
                    out[bucket] = {k: int(v["N"]) for k, v in item.items() if k not in skip and "N" in v}
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
        return out

    def _query(self, key: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        start = None
        while True:
            extra: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            try:
                answer = self._ddb.query(
                    TableName=self._table,
                    KeyConditionExpression="#b = :b",
                    ExpressionAttributeNames={"#b": "bucket"},
                    ExpressionAttributeValues={":b": {"S": key}},
                    ProjectionExpression="item_id, weight",
                    **extra,
                )
            except (ClientError, BotoCoreError) as exc:
                raise TransientFailure(f"activity: {exc}") from exc
            rows += answer.get("Items", [])
            start = answer.get("LastEvaluatedKey")
            if not start:
                return rows
