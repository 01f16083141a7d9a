"""The live catalogue on the local stack: an item made unavailable or deleted leaves every answer
(recommendations, rank, similar, popular) within 5 s, and comes back when available again."""

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from infrastructure.local_stack import LocalStack
from tests.e2e.conftest import running_stack
from tests.e2e.test_local_stack import wait_for
from tests.modelkit import publish_and_promote, tiny_model

LIMIT_SECONDS = 5.0


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with running_stack(parameters={"ModelRefreshSeconds": "1"}) as started:
        publish_and_promote(started.client("s3"), started.outputs()["ModelBucketName"], tiny_model(), "v-live")
        health = f"{started.api_url}/health"
        assert wait_for(lambda: requests.get(health, timeout=30).json()["model_version"] == "v-live")
        yield started


def answers(api: str, item: str, neighbour: str) -> dict[str, bool]:
    """Whether ``item`` is in each route's answer."""

    def ids(response: requests.Response) -> list[str]:
        return [row["item_id"] for row in response.json()["items"]]

    get: Any = lambda path, **q: requests.get(f"{api}{path}", params=q, timeout=30)  # noqa: E731
    ranked = requests.post(f"{api}/users/newcomer/rank", json={"item_ids": [item, neighbour]}, timeout=30)
    return {
        "recommendations": item in ids(get("/users/newcomer/recommendations", k=48)),
        "popular": item in ids(get("/popular", k=48)),
        "similar": item in ids(get(f"/items/{neighbour}/similar", k=48)),
        "rank": item in ids(ranked),
    }


def test_an_unavailable_item_leaves_every_answer_within_5_seconds(stack: LocalStack) -> None:
    api = stack.api_url
    item = requests.get(f"{api}/popular", params={"k": 1}, timeout=30).json()["items"][0]["item_id"]
    similar = requests.get(f"{api}/items/{item}/similar", params={"k": 1}, timeout=30).json()["items"]
    neighbour = similar[0]["item_id"]  # an item whose similar list holds ``item`` (neighbours are mutual here)
    assert all(answers(api, item, neighbour).values()), answers(api, item, neighbour)
    assert requests.put(f"{api}/items/{item}", json={"title": "A film", "categories": ["Drama"]}, timeout=30).ok
    started = time.monotonic()
    assert requests.patch(f"{api}/items/{item}", json={"available": False}, timeout=30).json()["available"] is False
    gone = wait_for(lambda: not any(answers(api, item, neighbour).values()), timeout=LIMIT_SECONDS)
    assert gone, answers(api, item, neighbour)
    assert time.monotonic() - started < LIMIT_SECONDS
    # available again: back in the answers; deleted: gone again
    requests.patch(f"{api}/items/{item}", json={"available": True}, timeout=30)
    assert wait_for(lambda: answers(api, item, neighbour)["popular"], timeout=LIMIT_SECONDS)
    assert requests.delete(f"{api}/items/{item}", timeout=30).status_code == 204
    assert wait_for(lambda: not any(answers(api, item, neighbour).values()), timeout=LIMIT_SECONDS)
