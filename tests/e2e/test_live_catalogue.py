"""A freshly deployed stack, before anyone trains a model, on the local stack: every recommendation
route answers 200 (model_version null) from the live catalogue and live popularity; three users with
different interests get different pages; a catalogue change sent on the stream (item_update) is in
the catalogue within seconds."""

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from infrastructure.local_stack import LocalStack
from tests.e2e.conftest import running_stack
from tests.e2e.test_local_stack import wait_for

SHOP = {
    "Running": ["shoe-1", "shoe-2", "shoe-3"],
    "TV": ["tv-1", "tv-2", "tv-3"],
    "Kitchen": ["pan-1", "pan-2", "pan-3"],
}
USERS = {"runner": "Running", "viewer": "TV", "cook": "Kitchen"}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with running_stack(parameters={"CatalogRefreshSeconds": "1"}) as started:
        yield started


def _get(api: str, path: str, **query: Any) -> requests.Response:
    return requests.get(f"{api}{path}", params=query, timeout=30)


def _event(user: str, item: str, category: str, kind: str = "view") -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": kind,
        "user_id": user,
        "item_id": item,
        "timestamp": time.time(),
        "item": {"category": category},
    }


def test_before_any_model_answers_follow_each_users_interests(stack: LocalStack) -> None:
    api = stack.api_url
    empty = _get(api, "/users/runner/recommendations")
    assert empty.status_code == 200 and empty.json()["model_version"] is None
    batch: list[Any] = [
        {"item_id": item, "title": item.title(), "categories": ["Shop", category], "price": 40.0}
        for category, items in SHOP.items()
        for item in items
    ]
    assert requests.post(f"{api}/items", json={"items": batch}, timeout=30).json()["accepted"] == len(batch)
    events = [_event(user, SHOP[category][0], category, "purchase") for user, category in USERS.items()]
    events.append(_event("fan", "tv-1", "TV"))  # tv-1 is the most popular item today
    assert requests.post(f"{api}/events", json={"events": events}, timeout=30).json()["accepted"] == len(events)

    def top_categories() -> dict[str, Any]:
        out = {}
        for user in USERS:
            body = _get(api, f"/users/{user}/recommendations", k=2, explain="true").json()
            assert body["model_version"] is None
            out[user] = [(row["metadata"]["category"][-1], row["reasons"]) for row in body["items"]]
        return out

    def personal() -> bool:
        pages = top_categories()
        return all(rows and all(c == USERS[u] for c, _ in rows) for u, rows in pages.items())

    assert wait_for(personal, timeout=30), top_categories()
    reasons = top_categories()["runner"][0][1]
    assert reasons == ["in Running, which you are browsing now"], reasons
    page = _get(api, "/users/runner/recommendations", k=9).json()["items"]
    assert "shoe-1" not in {row["item_id"] for row in page}  # bought already
    popular = _get(api, "/popular", window="1h", k=3).json()
    assert popular["model_version"] is None and popular["window"] == "1h"
    assert popular["items"][0]["item_id"] == "tv-1", popular
    similar = _get(api, "/items/shoe-2/similar", k=2).json()
    assert similar["model_version"] is None and {r["item_id"] for r in similar["items"]} == {"shoe-1", "shoe-3"}
    ranked = requests.post(f"{api}/users/runner/rank", json={"item_ids": ["pan-2", "shoe-2", "nowhere"]}, timeout=30)
    assert [row["item_id"] for row in ranked.json()["items"]] == ["shoe-2", "pan-2", "nowhere"]


def test_an_item_update_on_the_stream_reaches_the_catalogue(stack: LocalStack) -> None:
    api = stack.api_url
    change: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_type": "item_update",
        "item_id": "shoe-9",
        "timestamp": time.time(),
        "item": {"title": "Trail runner", "categories": ["Shop", "Running"], "price": 120.0},
    }
    assert requests.post(f"{api}/events", json={"events": [change]}, timeout=30).json()["accepted"] == 1
    assert wait_for(lambda: _get(api, "/items/shoe-9").status_code == 200, timeout=15)
    assert _get(api, "/items/shoe-9").json()["title"] == "Trail runner"
    gone: dict[str, Any] = {
        **change,
        "event_id": str(uuid.uuid4()),
        "timestamp": time.time() + 1,
        "item": {"available": False},
    }
    assert requests.post(f"{api}/events", json={"events": [gone]}, timeout=30).json()["accepted"] == 1
    assert wait_for(lambda: _get(api, "/items/shoe-9").json()["available"] is False, timeout=15)
    assert _get(api, "/items/shoe-9").json()["price"] == 120.0  # only the given field changed


def test_a_thousand_events_give_full_pages_and_a_new_item_reaches_its_category_fans(stack: LocalStack) -> None:
    from training.synthetic import Shape, generate

    api = stack.api_url
    shape = Shape(users=40, items=300, events=1_000, categories=8, days=1.0, start=time.time() - 86_400)
    events: list[Any] = list(generate(shape, seed=3))
    for start in range(0, len(events), 500):
        answer = requests.post(f"{api}/events", json={"events": events[start : start + 500]}, timeout=60).json()
        assert answer["accepted"] == len(events[start : start + 500]), answer["rejected"][:3]
    user = max({e["user_id"] for e in events}, key=lambda u: sum(e["user_id"] == u for e in events))

    def full_page() -> bool:
        body = _get(api, f"/users/{user}/recommendations", k=10).json()
        return body["model_version"] is None and len(body["items"]) == 10

    assert wait_for(full_page, timeout=60)
    profile = _get(api, f"/users/{user}/profile").json()
    strongest = max(profile["preferences"]["categories"].items(), key=lambda kv: kv[1])[0]
    put = requests.put(f"{api}/items/fresh-1", json={"title": "Fresh", "categories": [strongest]}, timeout=30)
    assert put.status_code == 201
    started = time.monotonic()

    def in_top_ten() -> bool:
        items = _get(api, f"/users/{user}/recommendations", k=10, explain="true").json()["items"]
        return "fresh-1" in {row["item_id"] for row in items}

    assert wait_for(in_top_ten, timeout=5), strongest
    assert time.monotonic() - started < 5
