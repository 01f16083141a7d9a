"""Every use case of the API's services, on in-memory fakes (no AWS, no handler)."""

from __future__ import annotations

import json

import pytest

from pulse.domain.events import parse_event
from pulse.domain.updater import PositionedEvent, apply_user_events
from pulse.errors import ModelUnavailable, UnknownItem, UnknownSegment, UnknownUser
from pulse.http.cursor import encode_cursor
from pulse.recommend.artifacts import Fetched
from pulse.services import collect, profiles, recommendations
from pulse.services.model_holder import ModelHolder, loaded_model
from tests.fakes import MemoryModelSource, MemoryProfileStore, MemoryPublisher
from tests.modelkit import tiny_model, version_files

T0 = 1_700_000_000.0


def event(i: int, user: str, kind: str = "rate", **extra: object) -> dict[str, object]:
    body: dict[str, object] = {"event_id": f"{user}-{i}", "event_type": kind, "user_id": user, "timestamp": T0 + i}
    return body | {"item_id": f"m{i}", "value": 5, "item": {"category": ["Drama"]}} | extra


def stored(store: MemoryProfileStore, user: str, count: int) -> None:
    events = [PositionedEvent(parse_event(event(i, user), now=4e9)) for i in range(1, count + 1)]
    store.save(apply_user_events(None, user, events, now=T0, half_life_days=14), expected_version=None)


@pytest.fixture(scope="module")
def source() -> MemoryModelSource:
    src = MemoryModelSource()
    src.versions["v1"] = version_files(tiny_model(), "v1")
    src.pointer = "v1"
    return src


@pytest.fixture
def store() -> MemoryProfileStore:
    found = MemoryProfileStore()
    for user in ("ann", "bob", "cy"):
        stored(found, user, 4)
    return found


def test_collect_puts_valid_events_keyed_by_user_and_reports_the_rest_by_index() -> None:
    stream = MemoryPublisher(refuse=[1])
    result = collect.collect(stream, [event(1, "ann"), event(2, "bob"), {"event_type": "view"}, "x"], now=4e9)
    assert result.accepted == 1 and [r.index for r in result.rejected] == [1, 2, 3]
    assert "send it again" in result.rejected[0].error and "object" in result.rejected[2].error
    assert [(key, json.loads(data)["event_id"]) for key, data in stream.records] == [("ann", "ann-1")]


def test_profile_is_read_and_erased(store: MemoryProfileStore) -> None:
    view = profiles.get_profile(store, "ann")
    assert view.user_id == "ann" and view.behavior.counts == {"rate": 4} and "fan:Drama" in view.segments
    assert store.erase("ann") is True and store.erase("ann") is False
    with pytest.raises(UnknownUser):
        profiles.get_profile(store, "ann")
    assert "ann" not in store.members_page("fan:Drama")


def test_segments_are_listed_with_their_counts_and_families(store: MemoryProfileStore) -> None:
    listing = profiles.list_segments(store)
    by_name = {s.name: s.members for s in listing.segments}
    assert by_name["new_users"] == 3 and by_name["high_spenders"] == 0
    [fans] = listing.families
    assert [(s.name, s.members) for s in fans.segments] == [("fan:Drama", 3)]
    assert profiles.recount_segments(store)["fan:Drama"] == 3


def test_an_audience_is_paged_with_cursors_that_belong_to_it(store: MemoryProfileStore) -> None:
    first = profiles.segment_audience(store, "new_users", 2, None)
    assert [m.user_id for m in first.users] == ["ann", "bob"] and first.next_cursor
    rest = profiles.segment_audience(store, "new_users", 2, first.next_cursor)
    assert [m.user_id for m in rest.users] == ["cy"] and rest.next_cursor is None
    # a cursor is the last user id of a page: any user id starts a page after it
    assert [m.user_id for m in profiles.segment_audience(store, "new_users", 5, "b").users] == ["bob", "cy"]
    with pytest.raises(UnknownSegment):
        profiles.segment_audience(store, "martians", 2, None)
    assert profiles.segment_audience(store, "fan:Books", 2, None).users == []
    assert encode_cursor(None) is None


def test_recommendations_rank_similar_and_popular(source: MemoryModelSource, store: MemoryProfileStore) -> None:
    holder = recommendations.Serving(ModelHolder(source))
    answer = recommendations.recommend(holder, store, "ann", 5, None, ["m9"], explain=True)
    body = answer.body
    assert body.model_version == "v1" and len(body.items) == 5 and not answer.telemetry.cold_start
    assert answer.telemetry.candidates >= 5 and all(i.reasons for i in body.items)
    assert not {"m1", "m2", "m3", "m4", "m9"} & {i.item_id for i in body.items}  # seen and excluded
    cold = recommendations.recommend(holder, store, "stranger", 3, "Drama", [], explain=False)
    assert cold.telemetry.cold_start and all(i.reasons is None for i in cold.body.items)
    assert cold.body.recommendation_id != body.recommendation_id
    ranked = recommendations.rank(holder, store, "ann", ["m7", "ghost", "m8", "m7"], explain=False)
    assert [i.item_id for i in ranked.items][-1] == "ghost" and len(ranked.items) == 3
    scores = [i.score or 0.0 for i in ranked.items[:-1]]
    assert scores == sorted(scores, reverse=True)
    similar = recommendations.similar(holder, "m1", 4)
    assert 0 < len(similar.items) <= 4 and similar.items[0].score == 1.0
    with pytest.raises(UnknownItem):
        recommendations.similar(holder, "ghost", 4)
    popular = recommendations.popular(holder, 3, None, "Drama")
    assert len(popular.items) == 3 and all("Drama" in i.metadata["category"] for i in popular.items if i.metadata)
    with pytest.raises(UnknownSegment):
        recommendations.popular(holder, 3, "martians", None)


def test_the_holder_serves_the_last_good_version(source: MemoryModelSource) -> None:
    clock = [0.0]
    refused: list[str] = []
    holder = ModelHolder(MemoryModelSource(), 30.0, clock=lambda: clock[0], on_failure=lambda v, r: refused.append(v))
    assert loaded_model(holder) is None
    with pytest.raises(ModelUnavailable):
        holder.current()
    holder.source = source
    clock[0] = 31.0
    assert holder.current().model.version == "v1"
    source.pointer = "v2"  # promoted but unreadable: refused, v1 keeps serving
    clock[0] = 62.0
    assert holder.current().model.version == "v1" and refused == ["v2"] and holder.failures == 1
    source.fail_pointer = True  # the bucket is unreachable: keep serving
    clock[0] = 93.0
    assert holder.current().model.version == "v1"
    source.pointer, source.fail_pointer = "v1", False


def test_a_new_version_loads_in_the_background_while_the_current_one_answers(source: MemoryModelSource) -> None:
    import threading

    release = threading.Event()

    class SlowSource(MemoryModelSource):
        def fetch(self, version: str) -> Fetched:
            if version != "v1":
                assert release.wait(10)  # the download of a large model
            return super().fetch(version)

    slow = SlowSource()
    slow.versions = dict(source.versions) | {"v2": version_files(tiny_model(seed=2), "v2")}
    slow.versions["v3"] = (slow.versions["v2"][0], {})  # promoted but unreadable
    slow.pointer = "v1"
    holder = ModelHolder(slow, 0.0, background=True)
    assert holder.current().model.version == "v1"  # the first version: loaded in line
    slow.pointer = "v2"
    for _ in range(3):  # every request meanwhile answers at once, from v1; one load runs
        assert holder.current().model.version == "v1"
    assert holder._loading is not None and holder._loading.is_alive()
    release.set()
    holder.wait_for_load(10)
    assert holder.current().model.version == "v2"
    slow.pointer = "v3"
    holder.current()
    holder.wait_for_load(10)
    assert holder.scorer is not None and holder.scorer.model.version == "v2"
    assert holder.failures == 1 and "v3" in holder.failed_versions


def test_an_erased_user_stays_erased_for_the_tombstones_period_then_may_come_back() -> None:
    from pulse.services.ingest import StreamRecord, process_batch
    from tests.fakes import MemoryDeadLetters

    clock = [T0 + 100.0]
    store = MemoryProfileStore(tombstone_seconds=3600.0, clock=lambda: clock[0])
    stored(store, "ann", 2)
    assert store.erase("ann") is True

    def deliver(n: int) -> None:
        raw = json.dumps(event(n, "ann")).encode()
        process_batch([StreamRecord("s-0", str(n), raw)], store, MemoryDeadLetters(), 14, now=clock[0])

    deliver(1)  # a re-delivered event, and a new one from a producer's retry
    deliver(7)
    with pytest.raises(UnknownUser):
        profiles.get_profile(store, "ann")
    assert store.erase("ann") is False  # idempotent: nothing to erase, the period restarts
    clock[0] += 3601.0  # after the period, the user's new events make a new profile
    deliver(8)
    assert profiles.get_profile(store, "ann").behavior.counts == {"rate": 1}


def test_answers_carry_the_live_catalogues_metadata_and_new_items(
    source: MemoryModelSource, store: MemoryProfileStore
) -> None:
    from pulse.domain.catalog import CatalogItem
    from pulse.services.catalog_view import CatalogView
    from tests.fakes import MemoryCatalog

    catalog = MemoryCatalog()
    catalog.put(CatalogItem(item_id="m5", title="Renamed", categories=["Drama"], created_at=1.0, updated_at=1.0))
    catalog.put(CatalogItem(item_id="brand-new", title="New", categories=["Drama"], created_at=2.0, updated_at=2.0))
    serving = recommendations.Serving(ModelHolder(source, catalog=CatalogView(catalog)), None, 0.3)
    popular = recommendations.popular(serving, 48, None, None)
    [m5] = [row for row in popular.items if row.item_id == "m5"]
    assert m5.metadata is not None and m5.metadata["title"] == "Renamed"
    page = recommendations.recommend(serving, store, "ann", 10, None, [], explain=True).body.items
    [new] = [row for row in page if row.item_id == "brand-new"]  # ann likes Drama: the new film reaches her
    assert new.reasons == ["new in Drama, which you like"] and page.index(new) == 2
    ranked = recommendations.rank(serving, store, "ann", ["brand-new", "m5", "ghost"], explain=False).items
    assert [row.item_id for row in ranked] == ["m5", "brand-new", "ghost"] and ranked[1].score is not None
