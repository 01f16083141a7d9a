"""The catalogue on DynamoDB: one item per catalogue item, and two indexes serving copies read.

Item: ``item_id`` (hash key), ``doc`` (the item as JSON), ``updated_at`` (the optimistic lock of a
PATCH), ``deleted`` (a tombstone), ``shard`` and ``changed_at`` (index ``changes``: every write, so a
serving copy asks "what changed since t" per shard), and, only while the item must not be
recommended (unavailable or deleted), ``blocked`` (the sparse index ``blocked``: the starting set of
a new serving copy).
"""

from __future__ import annotations

import json
import time
from binascii import crc32
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pulse.adapters.aws import client
from pulse.config import Settings
from pulse.domain.catalog import CatalogItem
from pulse.ports import CatalogChange, CatalogStore, StoreConflict, TransientFailure

SHARDS = 4
CHANGES, BLOCKED = "changes", "blocked"


def _shard(item_id: str) -> str:
    return str(crc32(item_id.encode()) % SHARDS)


def _record(item: CatalogItem | None, item_id: str, now: float) -> dict[str, Any]:
    shard = _shard(item_id)
    record: dict[str, Any] = {
        "item_id": {"S": item_id},
        "shard": {"S": shard},
        "changed_at": {"N": repr(now)},
        "deleted": {"BOOL": item is None},
    }
    if item is not None:
        record |= {"doc": {"S": item.model_dump_json()}, "updated_at": {"N": repr(item.updated_at)}}
    if item is None or not item.available:
        record["blocked"] = {"S": shard}
    return record


class DynamoCatalogStore(CatalogStore):
    def __init__(self, settings: Settings) -> None:
        self._ddb = client("dynamodb", settings.region, settings.endpoint_url)
        self._table = settings.items_table

    def _call(self, name: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._ddb, name)(TableName=self._table, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise StoreConflict(str(exc)) from exc
            raise TransientFailure(f"catalogue: {exc}") from exc
        except BotoCoreError as exc:
            raise TransientFailure(f"catalogue: {exc}") from exc

    def get(self, item_id: str) -> CatalogItem | None:
        found = self._call("get_item", Key={"item_id": {"S": item_id}}, ConsistentRead=True).get("Item")
        if not found or found.get("deleted", {}).get("BOOL") or "doc" not in found:
            return None
        return CatalogItem.model_validate_json(found["doc"]["S"])

    def put(self, item: CatalogItem, expected_updated_at: float | None = None) -> bool:
        extra: dict[str, Any] = {"ReturnValues": "ALL_OLD"}
        if expected_updated_at is not None:
            extra |= {
                "ConditionExpression": "updated_at = :seen AND deleted = :no",
                "ExpressionAttributeValues": {":seen": {"N": repr(expected_updated_at)}, ":no": {"BOOL": False}},
            }
        old = self._call("put_item", Item=_record(item, item.item_id, time.time()), **extra).get("Attributes")
        return bool(old) and not old.get("deleted", {}).get("BOOL")

    def put_many(self, items: Sequence[CatalogItem]) -> list[int]:
        failed: list[int] = []
        now = time.time()
        for start in range(0, len(items), 25):
            chunk = list(enumerate(items[start : start + 25], start))
            requests = {i: {"PutRequest": {"Item": _record(item, item.item_id, now)}} for i, item in chunk}
            pending = dict(requests)
            for attempt in range(4):
                try:
                    answer = self._ddb.batch_write_item(RequestItems={self._table: list(pending.values())})
                except (ClientError, BotoCoreError):
                    break
                left = {json.dumps(r, sort_keys=True) for r in answer.get("UnprocessedItems", {}).get(self._table, [])}
                pending = {i: r for i, r in pending.items() if json.dumps(r, sort_keys=True) in left}
                if not pending:
                    break
                time.sleep(0.05 * 2**attempt)
            failed += sorted(pending)
        return failed

    def delete(self, item_id: str) -> bool:
        old = self._call("put_item", Item=_record(None, item_id, time.time()), ReturnValues="ALL_OLD").get("Attributes")
        return bool(old) and not old.get("deleted", {}).get("BOOL")

    def blocked(self) -> set[str]:
        out: set[str] = set()
        for shard in range(SHARDS):
            for page in self._query(BLOCKED, "blocked = :s", {":s": {"S": str(shard)}}):
                out |= {row["item_id"]["S"] for row in page}
        return out

    def changes(self, since: float) -> list[CatalogChange]:
        out: list[CatalogChange] = []
        values = {":t": {"N": repr(since)}}
        for shard in range(SHARDS):
            condition = "shard = :s AND changed_at > :t"
            for page in self._query(CHANGES, condition, values | {":s": {"S": str(shard)}}):
                out += [_change(row) for row in page]
        return out

    def latest(self, limit: int) -> list[CatalogChange]:
        out: list[CatalogChange] = []
        for shard in range(SHARDS):
            values = {":s": {"S": str(shard)}}
            for page in self._query(CHANGES, "shard = :s", values, newest_first=True, limit=limit):
                out += [_change(row) for row in page]
        out.sort(key=lambda c: c.changed_at, reverse=True)
        return out[:limit]

    def _query(
        self, index: str, condition: str, values: dict[str, Any], newest_first: bool = False, limit: int | None = None
    ) -> list[list[dict[str, Any]]]:
        pages: list[list[dict[str, Any]]] = []
        start, read = None, 0
        while True:
            extra: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            answer = self._call(
                "query",
                IndexName=index,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
                ScanIndexForward=not newest_first,
                **extra,
            )
            pages.append(answer.get("Items", []))
            read += len(pages[-1])
            start = answer.get("LastEvaluatedKey")
            if not start or (limit is not None and read >= limit):
                return pages


def _change(row: dict[str, Any]) -> CatalogChange:
    doc = row.get("doc", {}).get("S")
    deleted = row.get("deleted", {}).get("BOOL", False)
    item = CatalogItem.model_validate_json(doc) if doc and not deleted else None
    return CatalogChange(row["item_id"]["S"], "blocked" in row, float(row["changed_at"]["N"]), item)
