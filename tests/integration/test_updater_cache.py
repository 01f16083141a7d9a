"""The updater handler on moto keeps the profiles it wrote: no read for a returning user, and a write
made elsewhere (here an erasure through the API) still wins."""

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from pynamodb.connection.base import Connection

from tests.integration.kit import Api, ev, kinesis_event, profile


@pytest.fixture
def calls() -> Iterator[Counter[str]]:
    seen: Counter[str] = Counter()
    original = Connection.dispatch

    def counting(self: Connection, operation_name: str, operation_kwargs: dict[str, Any]) -> dict[str, Any]:
        if "Profiles" in operation_kwargs.get("TableName", ""):
            seen[operation_name] += 1
        return original(self, operation_name, operation_kwargs)

    Connection.dispatch = counting  # type: ignore[method-assign]
    yield seen
    Connection.dispatch = original  # type: ignore[method-assign]


def test_a_returning_user_is_not_read_again_and_an_erasure_still_wins(aws_stack, updater, calls, capsys) -> None:
    api = Api(aws_stack)
    assert updater(kinesis_event([ev(1, "ida", "purchase", value=9.0)])) == {"batchItemFailures": []}
    assert calls["GetItem"] == 1
    capsys.readouterr()
    assert updater(kinesis_event([ev(2, "ida")], first_seq=2)) == {"batchItemFailures": []}
    assert calls["GetItem"] == 1  # the second batch applied to what the first one wrote
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["ProfileReadsSkipped"] for m in emf] == [[1.0]]  # what the dashboard charts
    assert profile(api, "ida")[1]["behavior"]["counts"] == {"purchase": 1, "view": 1}

    assert api("DELETE", "/users/ida", {"user_id": "ida"})[0] == 204  # the API writes the tombstone
    reads = calls["GetItem"]
    assert updater(kinesis_event([ev(3, "ida")], first_seq=3)) == {"batchItemFailures": []}
    assert calls["GetItem"] == reads + 1  # the held version lost: read again, found erased, dropped
    assert profile(api, "ida")[0] == 404


def test_the_cache_is_the_templates_setting(aws_stack, updater) -> None:
    store = updater.dependencies().store
    assert type(store).__name__ == "CachedProfileStore"
    assert store.budget == int(aws_stack.env["UPDATER_PROFILE_CACHE_MB"]) << 20 > 0
