"""Credentials with scopes on the local stack, enforced by the template's authorizer: every route
with every scope, and revocation within the authorizer's cache time."""

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from infrastructure.local_stack import LocalStack
from pulse.access import EVERY_SCOPE, ROUTES_BY_SCOPE, SCOPES
from pulse.adapters.clients import DynamoClientDirectory
from pulse.config import Settings
from tests.e2e.conftest import running_stack

CACHE_SECONDS = 1.0
CONCRETE = {"{user_id}": "walker", "{item_id}": "item-1", "{segment}": "new_users"}
BODIES: dict[str, Any] = {"/events": {"events": []}, "/users/{user_id}/rank": {"item_ids": ["item-1"]}}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    parameters = {"AuthorizerCacheSeconds": str(int(CACHE_SECONDS))}
    with running_stack(auth=True, parameters=parameters) as started:
        yield started


def directory(stack: LocalStack) -> DynamoClientDirectory:
    settings = Settings.model_validate(
        {"CLIENTS_TABLE": stack.outputs()["ClientsTableName"], "AWS_ENDPOINT_URL": stack.config.endpoint}
    )
    return DynamoClientDirectory(settings)


def call(stack: LocalStack, method: str, path: str, key: str | None) -> requests.Response:
    url = stack.api_url + path
    for name, value in CONCRETE.items():
        url = url.replace(name, value)
    headers = {"x-api-key": key} if key else {}
    return requests.request(method, url, json=BODIES.get(path), headers=headers, timeout=30)


def test_each_scope_opens_its_routes_and_no_other(stack: LocalStack) -> None:
    clients = directory(stack)
    keys = {scope: clients.create(f"walker-{scope}", [scope], f"uk-{scope}")[1] for scope in SCOPES}
    every_route = [EVERY_SCOPE] + [route for routes in ROUTES_BY_SCOPE.values() for route in routes]
    for method, path in every_route:
        assert call(stack, method, path, None).status_code == 401, (method, path)
        assert call(stack, method, path, "pulse_not-a-key").status_code == 403, (method, path)
        for scope, key in keys.items():
            status = call(stack, method, path, key).status_code
            opened = (method, path) == EVERY_SCOPE or (method, path) in ROUTES_BY_SCOPE[scope]
            if opened:  # reaches the function: its own answer, never the gateway's refusal
                assert status not in (401, 403, 429), (scope, method, path, status)
            else:
                assert status == 403, (scope, method, path, status)
    assert requests.get(f"{stack.api_url}/health", timeout=30).status_code == 200  # public


def test_a_revoked_credential_is_refused_within_the_cache_time(stack: LocalStack) -> None:
    clients = directory(stack)
    client, key = clients.create("revoked-app", ["ingest"], "uk-revoked")
    assert call(stack, "POST", "/events", key).status_code == 400  # authorised (an empty batch is invalid)
    clients.end(client, time.time(), revoke=True)
    time.sleep(CACHE_SECONDS + 0.2)
    assert call(stack, "POST", "/events", key).status_code == 403
