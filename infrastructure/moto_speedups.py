"""Make moto's DynamoDB transactions affordable for the local stack.

moto backs up a whole table with ``copy.deepcopy`` once per item of every ``TransactWriteItems`` call,
so each transaction costs O(table size) several times over; streaming MovieLens through the local stack
spent most of its time there. Put, Delete and ConditionCheck replace or remove Item objects and never
mutate them, so a snapshot that copies the tables' item containers (not the items) restores exactly the
same state on rollback. Update mutates its item in place, so the snapshot also deep-copies the items
the transaction's Updates name (the updater's segment counters: a few small items), and only those.

moto's backends are not thread-safe either (a transaction's copy iterates a table that a concurrent
PutItem changes; Kinesis GetRecords iterates a shard that PutRecords extends), and the local stack
calls them from several threads, so the calls of each service are also serialised, one lock per
service.
"""

from __future__ import annotations

import copy as _copy
import threading
from collections import defaultdict
from typing import Any

_LOCK = threading.RLock()  # DynamoDB's: its calls and the transaction patch below
_LOCKS: dict[str, threading.RLock] = {"dynamodb": _LOCK}
_LOCKS_GUARD = threading.Lock()


def _service_lock(service: str) -> threading.RLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(service, threading.RLock())


class _ContainerCopy:
    """Stands in for the ``copy`` module inside moto's transaction code."""

    updated: dict[str, list[tuple[Any, Any]]] = {}  # table name -> keys (hash, range or None) of Updates

    @staticmethod
    def deepcopy(table: Any) -> Any:
        from moto.dynamodb.models.table import Table

        if not isinstance(table, Table):  # update_item's own copy of the item it changes
            return _copy.deepcopy(table)
        snapshot = _copy.copy(table)
        items = defaultdict(dict, {h: dict(v) if isinstance(v, dict) else v for h, v in table.items.items()})
        for hash_key, range_key in _ContainerCopy.updated.get(table.name, []):
            if hash_key not in items:
                continue
            if range_key is None:
                items[hash_key] = _copy.deepcopy(items[hash_key])
            elif range_key in items[hash_key]:
                items[hash_key][range_key] = _copy.deepcopy(items[hash_key][range_key])
        snapshot.items = items
        return snapshot


def _updated_keys(backend: Any, transact_items: list[dict[str, Any]]) -> dict[str, list[tuple[Any, Any]]]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    found: dict[str, list[tuple[Any, Any]]] = {}
    for item in transact_items:
        op = item.get("Update")
        if op is None or op.get("TableName") not in backend.tables:
            continue
        table = backend.tables[op["TableName"]]
        key = op.get("Key", {})
        if table.hash_key_attr not in key:
            continue
        range_attr = table.range_key_attr
        range_key = DynamoType(key[range_attr]) if range_attr and range_attr in key else None
        found.setdefault(table.name, []).append((DynamoType(key[table.hash_key_attr]), range_key))
    return found


def install() -> None:
    from moto.core.responses import BaseResponse
    from moto.dynamodb import models, responses

    original = models.DynamoDBBackend.transact_write_items
    if getattr(original, "pulse_patched", False):
        return
    # moto's backends are not thread-safe (a PutRecords during GetRecords raised "OrderedDict mutated
    # during iteration" in the demo): the calls of one service are made one at a time, each service
    # behind its own lock, so a Kinesis poll never waits for a DynamoDB transaction
    for handler in (BaseResponse, responses.DynamoHandler):
        original_call = handler.call_action

        def call_action(self: Any, original_call: Any = original_call) -> Any:
            with _service_lock(str(getattr(self, "service_name", "") or "")):
                return original_call(self)

        handler.call_action = call_action  # type: ignore[method-assign]

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _LOCK:
            real = models.copy
            models.copy = _ContainerCopy  # type: ignore[assignment]
            _ContainerCopy.updated = _updated_keys(self, transact_items)
            try:
                return original(self, transact_items)
            finally:
                models.copy = real
                _ContainerCopy.updated = {}

    transact_write_items.pulse_patched = True  # type: ignore[attr-defined]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
