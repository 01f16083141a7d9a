"""The committed OpenAPI spec is the one the code generates, and it matches the contract's routes."""

import json

from scripts.openapi import SERVED, SPEC, generate, render


def test_committed_spec_matches_the_code() -> None:
    assert SPEC.read_text() == render(), "openapi.json is stale: run `make openapi` and commit it"
    assert SERVED.read_text() == SPEC.read_text(), "the spec GET /swagger serves is stale: run `make openapi`"


def test_spec_has_every_contract_route_and_only_health_and_the_console_are_public() -> None:
    paths = json.loads(SPEC.read_text())["paths"]
    expected = {
        ("get", "/users/{user_id}/recommendations"),
        ("post", "/users/{user_id}/rank"),
        ("get", "/items/{item_id}/similar"),
        ("get", "/popular"),
        ("get", "/users/{user_id}/profile"),
        ("delete", "/users/{user_id}"),
        ("get", "/erasures/{erasure_id}"),
        ("get", "/segments"),
        ("get", "/segments/{segment}/users"),
        ("post", "/events"),
        ("put", "/items/{item_id}"),
        ("patch", "/items/{item_id}"),
        ("get", "/items/{item_id}"),
        ("delete", "/items/{item_id}"),
        ("post", "/items"),
        ("get", "/health"),
        ("put", "/segments/{segment}"),
        ("get", "/segments/{segment}"),
        ("delete", "/segments/{segment}"),
        ("post", "/segments/{segment}/exports"),
        ("get", "/exports/{export_id}"),
        ("put", "/experiments/{experiment_id}"),
        ("get", "/experiments"),
        ("get", "/experiments/{experiment_id}"),
        ("delete", "/experiments/{experiment_id}"),
        ("get", "/experiments/{experiment_id}/results"),
        ("post", "/experiments/{experiment_id}/promote"),
        ("get", "/overview"),
        ("get", "/models"),
        ("post", "/models/{version}/promote"),
        ("post", "/models/rollback"),
        ("get", "/console"),
    }
    assert expected == {(m, p) for p, ops in paths.items() for m in ops}
    public = {(m, p) for p, ops in paths.items() for m, op in ops.items() if op.get("security") == [{}]}
    assert public == {("get", "/health"), ("get", "/console")}
    assert generate()["components"]["securitySchemes"]["apiKey"]["name"] == "x-api-key"
