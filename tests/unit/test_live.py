"""Live popularity, catalogue changes on the stream, and answers from the live catalogue."""

import json

import pytest

from pulse.domain.activity import DAY, HOUR, THROUGHPUT_ROW, InvalidWindow, parse_window, tally
from pulse.domain.catalog import CatalogItem, ItemFields, ItemUpdateEvent
from pulse.domain.events import InvalidEvent, parse_event
from pulse.domain.records import parse_record, partition_key
from pulse.domain.updater import PositionedEvent, apply_user_events
from pulse.recommend.scorer import Recommendation
from pulse.services.catalog import apply_item_update
from pulse.services.catalog_view import CatalogView
from pulse.services.ingest import StreamRecord, process_batch
from pulse.services.live_answers import LiveContext, live_page, popular_now, similar_in_catalogue, with_new_items
from tests.fakes import MemoryActivity, MemoryCatalog, MemoryDeadLetters, MemoryProfileStore

NOW = 1_790_000_000.0


def behaviour(i: int, user: str, item: str, kind: str = "view", category: str = "Running", **extra: object) -> dict:
    return {
        "event_id": f"e{i}",
        "event_type": kind,
        "user_id": user,
        "timestamp": NOW - 100 + i,
        "item_id": item,
        "item": {"category": category, "brand": "Fleet", "price": 80.0},
        **extra,
    }


def change(i: int, item: str, at: float, **fields: object) -> dict:
    return {"event_id": f"c{i}", "event_type": "item_update", "item_id": item, "timestamp": at, "item": fields}


def test_windows_are_hours_or_days_within_bounds() -> None:
    assert parse_window("24h").buckets(10 * DAY + 5) == [f"h{240 - n}" for n in range(24)]
    assert parse_window("7d").buckets(10 * DAY + 5)[0] == "d10"
    for bad in ("0h", "49h", "31d", "1w", "h", "1.5h"):
        with pytest.raises(InvalidWindow, match="window"):
            parse_window(bad)


def test_tally_weighs_positive_signals_into_hour_and_day_buckets() -> None:
    events = [
        parse_event(behaviour(1, "u", "a", "purchase"), now=NOW),
        parse_event(behaviour(2, "u", "a", "view"), now=NOW),
        parse_event(behaviour(3, "u", "b", "dislike"), now=NOW),  # "not this": counts nothing
        parse_event({**behaviour(4, "u", "c"), "timestamp": NOW - 40 * DAY}, now=NOW),  # beyond every window
    ]
    rows = tally(events, NOW)
    hour, day = f"h{int((NOW - 99) // HOUR)}", f"d{int((NOW - 99) // DAY)}"
    assert set(rows) == {(hour, "a"), (day, "a")}
    assert rows[(hour, "a")].weight == 6.0 and rows[(hour, "a")].events == 2


def test_an_item_update_is_read_like_a_patch_and_keyed_by_its_item() -> None:
    record = parse_record(json.dumps(change(1, "sku-1", NOW, title="Trail", price=99.5, available=False)), now=NOW)
    assert isinstance(record, ItemUpdateEvent) and partition_key(record) == "sku-1"
    assert record.item.price == 99.5 and record.item.available is False
    assert partition_key(parse_record(json.dumps(behaviour(1, "ann", "a")), now=NOW)) == "ann"
    for bad, says in [
        (change(1, "sku 1", NOW), "item_id"),
        (change(1, "sku-1", NOW, price="12"), "item.price"),
        ({**change(1, "sku-1", NOW), "user_id": "ann"}, "user_id"),
        (change(1, "sku-1", NOW + 3600), "ahead"),
        ({**behaviour(1, "ann", "a"), "event_type": "nope"}, "item_update"),  # the error lists every type
    ]:
        with pytest.raises(InvalidEvent, match=says):
            parse_record(json.dumps(bad), now=NOW)


def test_the_latest_item_update_wins_and_a_repeat_changes_nothing() -> None:
    store = MemoryCatalog()
    first = ItemUpdateEvent.model_validate(change(1, "sku-1", NOW - 10, title="Trail", price=90.0))
    later = ItemUpdateEvent.model_validate(change(2, "sku-1", NOW, price=70.0))
    assert apply_item_update(store, first) and apply_item_update(store, later)
    assert not apply_item_update(store, first) and not apply_item_update(store, later)
    item = store.get("sku-1")
    assert item is not None and (item.title, item.price, item.created_at) == ("Trail", 70.0, NOW - 10)


def _stream(payloads: list[dict], first: int = 1) -> list[StreamRecord]:
    return [StreamRecord("shard-0", str(first + n), json.dumps(p).encode()) for n, p in enumerate(payloads)]


def test_the_updater_applies_item_updates_and_counts_popularity_once() -> None:
    store, catalog, activity = MemoryProfileStore(), MemoryCatalog(), MemoryActivity()
    batch = _stream(
        [behaviour(1, "ann", "a", "purchase"), change(2, "new-1", NOW, title="New"), behaviour(3, "bob", "a")]
    )

    def run(records: list[StreamRecord]) -> int:
        outcome = process_batch(records, store, MemoryDeadLetters(), 14, now=NOW, catalog=catalog, activity=activity)
        assert not outcome.failed
        return outcome.items_changed

    assert run(batch) == 1
    assert run(batch) == 0  # re-delivered: nothing applied twice
    assert run(_stream([behaviour(1, "ann", "a", "purchase")], first=10)) == 0  # producer duplicate
    assert sum(activity.events.values()) == 4  # two events, each in an hour and a day bucket
    minute = f"m{int(NOW // 60)}"  # the overview's throughput: applied once, not per delivery
    assert activity.counts([minute], THROUGHPUT_ROW) == {minute: {"events": 2, "profiles": 2}}
    assert activity.totals([f"d{int(NOW // DAY)}"]) == {"a": 6.0}
    assert catalog.get("new-1") is not None
    letters = MemoryDeadLetters()
    process_batch(_stream([change(4, "x", NOW)], first=20), store, letters, 14, now=NOW)
    assert "no catalogue" in letters.letters[0].reason


def _profile(*events: dict):
    parsed = [PositionedEvent(parse_event(e, now=NOW)) for e in events]
    return apply_user_events(None, "ann", parsed, now=NOW, half_life_days=14).state.profile


def _item(item_id: str, categories: list[str], at: float, **extra: object) -> CatalogItem:
    fields = ItemFields.model_validate({"categories": categories, "title": item_id.title(), **extra})
    return CatalogItem(item_id=item_id, created_at=at, updated_at=at, **fields.model_dump(exclude_none=True))


def _view(*items: CatalogItem, blocked: tuple[str, ...] = ()) -> CatalogView:
    catalog = MemoryCatalog()
    for item in items:
        catalog.put(item)
    for item_id in blocked:
        catalog.delete(item_id)
    view = CatalogView(catalog, clock=lambda: NOW)
    view.refresh()
    return view


def test_without_a_model_a_page_follows_taste_then_popularity() -> None:
    view = _view(
        _item("shoe", ["Sport", "Running"], NOW - 50, brand="Fleet", price=90.0),
        _item("tv", ["Electronics", "TV"], NOW - 40),
        _item("pan", ["Kitchen"], NOW - 30),
        _item("gone", ["Running"], NOW - 20),
        blocked=("gone",),
    )
    popularity = {"tv": 40.0, "pan": 5.0, "outside": 20.0}
    cold = live_page(LiveContext(view, popularity, "7d"), 10, [], None)
    assert [r.item_id for r in cold] == ["tv", "outside", "pan", "shoe"]
    assert cold[0].reasons == ["popular in the last 7d"] and cold[-1].reasons == ["in the catalogue"]
    runner = _profile(behaviour(1, "ann", "old-shoe", "purchase"))
    page = live_page(LiveContext(view, popularity, "7d", runner, now=NOW), 3, ["pan"], None)
    assert [r.item_id for r in page][:1] == ["shoe"] and "pan" not in {r.item_id for r in page}
    assert page[0].reasons == ["in Running, which you are browsing now"]
    assert page[0].metadata["brand"] == "Fleet"
    assert [r.item_id for r in live_page(LiveContext(view, popularity, "7d"), 5, [], "Kitchen")] == ["pan"]
    top = popular_now(LiveContext(view, popularity, "24h"), None, 2, None)
    assert [(r.item_id, r.score) for r in top] == [("tv", 1.0), ("outside", 0.5)]


def test_new_arrivals_take_a_bounded_share_of_a_model_page() -> None:
    view = _view(*[_item(f"new-{n}", ["Running"], NOW - n) for n in range(5)], _item("tv", ["TV"], NOW))
    model_page = [Recommendation(f"m{n}", 0.5) for n in range(10)]

    class Known:  # a model that knows none of the catalogue's items
        version, index = "v1", {f"m{n}": n for n in range(10)}

    runner = _profile(behaviour(1, "ann", "old-shoe", "purchase"))
    ctx = LiveContext(view, {}, "7d", runner, now=NOW)
    page = with_new_items(model_page, ctx, Known(), 10, 0.2, [], None)  # type: ignore[arg-type]
    assert len(page) == 10 and [n for n, r in enumerate(page) if r.item_id.startswith("new-")] == [4, 9]
    assert page[4].reasons == ["new in Running, which you are browsing now"]
    assert with_new_items(model_page, ctx, Known(), 10, 0.0, [], None) == model_page  # type: ignore[arg-type]
    cold = with_new_items(model_page, LiveContext(view, {}, "7d"), Known(), 10, 0.2, [], None)  # type: ignore[arg-type]
    assert cold == model_page  # nothing matches a stranger and nothing is popular: no new arrival forced


def test_items_like_a_catalogue_only_item_share_its_categories() -> None:
    view = _view(
        _item("shoe", ["Sport", "Running"], NOW, brand="Fleet"),
        _item("shoe-2", ["Sport", "Running"], NOW),
        _item("ball", ["Sport", "Football"], NOW, brand="Fleet"),
        _item("tv", ["TV"], NOW),
    )
    found = similar_in_catalogue(view, None, "shoe", 5)
    assert found is not None and [r.item_id for r in found] == ["shoe-2", "ball"]
    assert found[0].reasons == ["like Shoe"] and similar_in_catalogue(view, None, "ghost", 5) is None
