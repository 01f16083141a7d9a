"""Use cases behind the catalogue routes (``/items``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from pulse.domain.catalog import CatalogItem, ItemFields, ItemUpdateEvent, NewItem, patched, replaced, updated
from pulse.errors import UnknownItem
from pulse.http.models import CollectResult, Rejection
from pulse.ports import CatalogStore, StoreConflict, TransientFailure

PATCH_ATTEMPTS = 3


@dataclass(frozen=True)
class PutAnswer:
    item: CatalogItem
    created: bool


def put_item(store: CatalogStore, item_id: str, fields: ItemFields, now: float) -> PutAnswer:
    item = replaced(item_id, fields, now, store.get(item_id))
    existed = store.put(item)
    return PutAnswer(item, created=not existed)


def patch_item(store: CatalogStore, item_id: str, fields: ItemFields, now: float) -> CatalogItem:
    """Change the given fields; a concurrent change is read again and the patch applied to it."""
    for _ in range(PATCH_ATTEMPTS):
        current = store.get(item_id)
        if current is None:
            raise UnknownItem(f"no item {item_id}")
        item = patched(current, fields, now)
        try:
            store.put(item, expected_updated_at=current.updated_at)
        except StoreConflict:
            continue
        return item
    raise StoreConflict(f"item {item_id} kept changing; send the patch again")


def add_items(store: CatalogStore, items: Sequence[Any], now: float) -> CollectResult:
    """Each item validated on its own: the valid ones are stored, the others listed with the reason."""
    valid: list[tuple[int, CatalogItem]] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(items):
        try:
            given = NewItem.model_validate(raw)
        except ValidationError as exc:
            reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'item'}: {e['msg']}" for e in exc.errors())
            rejected.append(Rejection(index=index, error=reasons))
            continue
        fields = ItemFields.model_validate(given.model_dump(exclude={"item_id"}, exclude_unset=True))
        valid.append((index, replaced(given.item_id, fields, now, None)))
    for position in store.put_many([item for _, item in valid]):
        rejected.append(Rejection(index=valid[position][0], error="not stored (throttled); send it again"))
    rejected.sort(key=lambda r: r.index)
    return CollectResult(accepted=len(items) - len(rejected), rejected=rejected)


def get_item(store: CatalogStore, item_id: str) -> CatalogItem:
    item = store.get(item_id)
    if item is None:
        raise UnknownItem(f"no item {item_id}")
    return item


def delete_item(store: CatalogStore, item_id: str) -> bool:
    return store.delete(item_id)


def apply_item_update(store: CatalogStore, change: ItemUpdateEvent) -> bool:
    """An ``item_update`` from the stream: create the item or change the given fields, unless the
    item was written at or after the change's time (a repeat or an older change); whether it changed.
    A concurrent write is read again; one that keeps changing is a ``TransientFailure`` (retried)."""
    for _ in range(PATCH_ATTEMPTS):
        current = store.get(change.item_id)
        item = updated(current, change)
        if item is None:
            return False
        try:
            store.put(item, expected_updated_at=current.updated_at if current else None)
        except StoreConflict:
            continue
        return True
    raise TransientFailure(f"item {change.item_id} kept changing under {PATCH_ATTEMPTS} attempts")
