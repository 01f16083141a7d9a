"""Scopes, grants and the policy check the local API applies as API Gateway does."""

import pytest

from infrastructure.functions import ApiRoute, Authorizer, function_specs
from infrastructure.gateway_auth import DENIED, NO_KEY, THROTTLED, UNAUTHORIZED, GatewayAuth, policy_allows
from pulse.access import (
    EVERY_SCOPE,
    ROUTES_BY_SCOPE,
    AccessError,
    Client,
    allowed,
    check_client_id,
    check_scopes,
    grant,
    new_token,
    token_hash,
)
from tests.unit.test_template import offline_stack

ARN = "arn:aws:execute-api:us-east-1:123456789012:local/prod"


def client(**changes: object) -> Client:
    fields: dict[str, object] = {
        "client_id": "shop-app",
        "key_hash": "h",
        "scopes": ("ingest",),
        "created_at": 0.0,
        "usage_key": "k",
    }
    return Client(**(fields | changes))  # type: ignore[arg-type]


def test_every_authenticated_route_of_the_template_belongs_to_a_scope() -> None:
    # a route added to the template without a scope would be open to no one: this names it
    routes = {(r.method, r.path) for s in function_specs(offline_stack()).values() for r in s.routes if r.authorizer}
    scoped = {route for routes in ROUTES_BY_SCOPE.values() for route in routes} | {EVERY_SCOPE}
    assert routes == scoped
    health = [r for s in function_specs(offline_stack()).values() for r in s.routes if r.path == "/health"]
    assert [r.authorizer for r in health] == [None]


def test_a_grant_opens_only_the_routes_of_the_scopes() -> None:
    producer = grant(client(), now=10.0)
    assert producer.principal == "shop-app" and producer.usage_key == "k"
    assert allowed(producer.routes, "POST", "/events")
    assert allowed(producer.routes, "GET", "/swagger")
    assert not allowed(producer.routes, "GET", "/users/u1/profile")
    assert not allowed(producer.routes, "DELETE", "/users/u1")
    reader = grant(client(scopes=("recommend", "profiles")), now=10.0)
    assert allowed(reader.routes, "GET", "/users/u-1/recommendations")
    assert allowed(reader.routes, "GET", "/users/u-1/profile")
    assert not allowed(reader.routes, "POST", "/events")


def test_revoked_and_expired_credentials_open_nothing() -> None:
    assert grant(None, now=1.0).principal is None
    assert grant(client(revoked_at=5.0), now=6.0).routes == ()
    assert grant(client(revoked_at=5.0), now=4.0).principal == "shop-app"  # revoked from then on
    assert grant(client(expires_at=5.0), now=5.0).principal is None  # a rotated key after its grace


def test_scopes_and_ids_are_checked() -> None:
    assert check_scopes(["admin", "ingest"]) == ("ingest", "admin")
    with pytest.raises(AccessError, match="unknown scope everything"):
        check_scopes(["everything"])
    with pytest.raises(AccessError):
        check_scopes([])
    with pytest.raises(AccessError):
        check_client_id("Shop App")
    token = new_token()
    assert token.startswith("pulse_") and len(token) > 40 and token_hash(token) != token_hash(new_token())


def test_policy_evaluation_is_iams_deny_wins_then_allow() -> None:
    allow = {"Effect": "Allow", "Resource": [f"{ARN}/GET/users/*/profile"]}
    deny = {"Effect": "Deny", "Resource": [f"{ARN}/*/*"]}
    assert policy_allows({"Statement": [allow]}, f"{ARN}/GET/users/u1/profile")
    assert not policy_allows({"Statement": [allow]}, f"{ARN}/DELETE/users/u1")
    assert not policy_allows({"Statement": [allow, deny]}, f"{ARN}/GET/users/u1/profile")
    assert not policy_allows({"Statement": []}, f"{ARN}/GET/users/u1/profile")


def event(key: str | None, path: str = "/events", method: str = "POST") -> dict[str, object]:
    headers = {"X-Api-Key": key} if key else {}
    return {"headers": headers, "httpMethod": method, "path": path, "requestContext": {"stage": "prod", "identity": {}}}


def test_gateway_asks_once_per_credential_and_throttles_each_client() -> None:
    calls: list[str] = []

    def authorizer(request: dict[str, object]) -> dict[str, object]:
        calls.append(str(request["methodArn"]))
        statement = {"Effect": "Allow", "Resource": [f"{ARN}/POST/events"]}
        return {"principalId": "p", "policyDocument": {"Statement": [statement]}, "usageIdentifierKey": "uk"}

    spec = Authorizer("A", "Fn", "x-api-key", cache_seconds=60, rate_limit=1.0, burst_limit=2)
    route = ApiRoute("post", "/events", "POST", True, spec)
    gateway = GatewayAuth({"Fn": authorizer}, "us-east-1", "123456789012")
    assert gateway.check(route, event(None)) == UNAUTHORIZED
    first = event("secret")
    assert gateway.check(route, first) is None
    assert first["requestContext"]["authorizer"] == {"principalId": "p"}  # type: ignore[index]
    assert gateway.check(route, event("secret")) is None  # the burst of 2
    assert gateway.check(route, event("secret")) == THROTTLED
    assert calls == [f"{ARN}/POST/events"]  # cached: asked once
    other = ApiRoute("delete", "/users/{user_id}", "DELETE", True, spec)
    assert gateway.check(other, event("secret", "/users/u1", "DELETE")) == DENIED
    keyless = Authorizer("B", "Fn2", "x-api-key", cache_seconds=0)
    everything = {"Statement": [{"Effect": "Allow", "Resource": [f"{ARN}/*"]}]}
    gateway.invokers["Fn2"] = lambda request: {"principalId": "p", "policyDocument": everything}
    assert gateway.check(ApiRoute("x", "/events", "POST", True, keyless), event("secret")) == NO_KEY
