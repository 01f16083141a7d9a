"""The catalogue's rules and the serving copy of its availability."""

from collections.abc import Sequence

import numpy as np
import pytest
from pydantic import ValidationError

from pulse.domain.catalog import CatalogItem, ItemFields, patched, replaced
from pulse.ports import CatalogChange, CatalogStore, TransientFailure
from pulse.services.catalog_view import MARGIN_SECONDS, CatalogView


class Changes(CatalogStore):
    def __init__(self) -> None:
        self.start: set[str] = {"gone"}
        self.log: list[CatalogChange] = []
        self.asked: list[float] = []
        self.fail = False

    def get(self, item_id: str) -> CatalogItem | None:
        return None

    def put(self, item: CatalogItem, expected_updated_at: float | None = None) -> bool:
        return False

    def put_many(self, items: Sequence[CatalogItem]) -> list[int]:
        return []

    def delete(self, item_id: str) -> bool:
        return False

    def blocked(self) -> set[str]:
        return set(self.start)

    def latest(self, limit: int) -> list[CatalogChange]:
        return []

    def changes(self, since: float) -> list[CatalogChange]:
        if self.fail:
            raise TransientFailure("throttled")
        self.asked.append(since)
        return [c for c in self.log if c.changed_at > since]


def test_the_view_starts_from_the_blocked_items_then_follows_changes() -> None:
    clock, store = [100.0], Changes()
    view = CatalogView(store, refresh_seconds=2.0, clock=lambda: clock[0])
    view.refresh()
    assert view.blocked == {"gone"} and view.generation == 1
    store.log += [CatalogChange("a", True, 100.5), CatalogChange("gone", False, 100.6)]
    clock[0] = 101.0
    view.refresh()  # within the refresh period: nothing asked
    assert view.blocked == {"gone"} and store.asked == []
    clock[0] = 102.5
    view.refresh()
    assert view.blocked == {"a"} and view.generation == 2
    assert store.asked == [100.0 - MARGIN_SECONDS]  # re-reads a margin before its last look
    store.fail, clock[0] = True, 105.0
    view.refresh()  # unreadable: keeps what it knows
    assert view.blocked == {"a"}
    store.fail, clock[0] = False, 107.0
    view.refresh()
    assert store.asked[-1] == 102.5 - MARGIN_SECONDS and view.generation == 2  # same state: no new generation


def test_put_replaces_patch_changes_only_what_is_given() -> None:
    first = replaced(
        "s", ItemFields.model_validate({"title": "Shoe", "price": 10.0, "tags": ["new"]}), now=5.0, previous=None
    )
    assert first.created_at == 5.0 and first.available is True
    again = replaced("s", ItemFields.model_validate({"title": "Shoe 2"}), now=9.0, previous=first)
    assert again.created_at == 5.0 and again.price is None and again.tags == []
    changed = patched(again, ItemFields.model_validate({"available": False}), now=12.0)
    assert changed.available is False and changed.title == "Shoe 2" and changed.updated_at == 12.0
    assert (
        ItemFields.model_validate({"created_at": "2026-12-01T10:00:00+01:00"}).created_at == 1796115600.0
    )  # 09:00 UTC


@pytest.mark.parametrize(
    "body",
    [{"price": float("inf")}, {"price": -0.01}, {"created_at": 1e13}, {"tags": [""]}, {"attributes": {"k": [1]}}],
)
def test_out_of_bounds_fields_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ItemFields.model_validate(body)


def test_availability_is_the_trained_one_minus_what_is_blocked() -> None:
    from pulse.services.catalog_view import apply_availability

    class Model:
        index = {"a": 0, "b": 1, "c": 2}
        available = np.array([True, False, True])

    model = Model()
    trained = model.available.copy()
    apply_availability(model, trained, {"a", "unknown"})  # type: ignore[arg-type]
    assert model.available.tolist() == [False, False, True]
    apply_availability(model, trained, set())  # type: ignore[arg-type]
    assert model.available.tolist() == [True, False, True]  # unblocked: as trained, never more
