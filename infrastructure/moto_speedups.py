"""Make moto's DynamoDB transactions affordable for the local stack.

moto backs up a whole table with ``copy.deepcopy`` once per item of every ``TransactWriteItems`` call,
so each transaction costs O(table size) several times over; streaming MovieLens through the local stack
spent most of its time there. For transactions made only of Put, Delete and ConditionCheck (all the
updater and the API send), moto replaces or removes Item objects and never mutates them, so a snapshot
that copies the tables' item containers (not the items) restores exactly the same state on rollback.
Transactions with Update keep moto's own deep copy.
"""

from __future__ import annotations

import copy as _copy
import threading
from collections import defaultdict
from typing import Any

_LOCK = threading.Lock()
SAFE_OPERATIONS = {"Put", "Delete", "ConditionCheck"}


class _ContainerCopy:
    """Stands in for the ``copy`` module inside moto's transaction code."""

    @staticmethod
    def deepcopy(table: Any) -> Any:
        snapshot = _copy.copy(table)
        snapshot.items = defaultdict(dict, {h: dict(v) if isinstance(v, dict) else v for h, v in table.items.items()})
        return snapshot


def install() -> None:
    from moto.dynamodb import models

    original = models.DynamoDBBackend.transact_write_items
    if getattr(original, "pulse_patched", False):
        return

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if not all(next(iter(item), None) in SAFE_OPERATIONS for item in transact_items):
            with _LOCK:
                return original(self, transact_items)
        with _LOCK:  # moto's backends are not thread-safe; the server is threaded
            real = models.copy
            models.copy = _ContainerCopy  # type: ignore[assignment]
            try:
                return original(self, transact_items)
            finally:
                models.copy = real

    transact_write_items.pulse_patched = True  # type: ignore[attr-defined]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
