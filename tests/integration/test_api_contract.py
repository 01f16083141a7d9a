"""Every route's real answers, the 200 and each error, against the committed spec: the status is one the
spec documents for that operation, and the body matches the schema it documents for that status."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import jsonschema
import pytest

from pulse.recommend.artifacts import Fetched
from scripts.openapi import SPEC
from tests.conftest import AwsStack
from tests.integration.kit import ev, kinesis_event
from tests.modelkit import publish_and_promote, tiny_model

DOC = json.loads(SPEC.read_text())


class NoModel:
    def pointer_version(self) -> str | None:
        return None

    def fetch(self, version: str) -> Fetched:
        raise AssertionError("never fetched")


def call(
    fn: Any,
    stack: AwsStack,
    logical_id: str,
    method: str,
    path: str,
    template: str,
    query: dict[str, str] | None = None,
    body: Any = None,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    params = {}
    for got, want in zip(path.split("/"), template.split("/"), strict=True):
        if want.startswith("{"):
            params[want[1:-1]] = got
    event = {
        "resource": template,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": content_type},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": params or None,
        "requestContext": {"requestId": "r", "stage": "prod", "resourcePath": template, "httpMethod": method},
        "body": body if isinstance(body, str) or body is None else json.dumps(body),
        "isBase64Encoded": False,
    }
    out = fn(event, stack.context(logical_id))
    status = out["statusCode"]
    answer = json.loads(out["body"]) if out.get("body") else None
    conforms(method, template, status, answer)
    return status, answer


def conforms(method: str, template: str, status: int, body: Any) -> None:
    operation = DOC["paths"][template][method.lower()]
    assert str(status) in operation["responses"], f"{method} {template} answered {status}, not in the spec"
    content = operation["responses"][str(status)].get("content")
    if content is None:
        assert body is None, f"{method} {template} {status}: the spec documents no body"
        return
    schema = {**content["application/json"]["schema"], "components": DOC["components"]}
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)


@pytest.fixture
def routes(aws_stack: AwsStack) -> Any:
    api, collector = aws_stack.handler("ApiFunction"), aws_stack.handler("CollectorFunction")
    updater = aws_stack.handler("ProfileUpdaterFunction")
    updater(
        kinesis_event([ev(i, "ann", "rate", value=5, item_id=f"m{i}") for i in range(1, 5)]),
        aws_stack.context("ProfileUpdaterFunction"),
    )

    def route(method: str, path: str, template: str, **kwargs: Any) -> tuple[int, Any]:
        fn, logical_id = (collector, "CollectorFunction") if path == "/events" else (api, "ApiFunction")
        return call(fn, aws_stack, logical_id, method, path, template, **kwargs)

    provider = aws_stack.dependencies("ApiFunction")

    def without_model() -> Any:
        deps = provider()
        holder = _holder(NoModel(), deps.holder.catalog)
        return provider.override(replace(deps, serving=replace(deps.serving, holder=holder)))

    route.without_model = without_model  # type: ignore[attr-defined]
    return route


def _holder(source: Any, catalog: Any) -> Any:
    from pulse.services.model_holder import ModelHolder

    return ModelHolder(source, catalog=catalog)


def test_every_answer_of_every_route_is_the_one_the_spec_documents(aws_stack: AwsStack, routes: Any) -> None:
    r = routes
    publish_and_promote(aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"], tiny_model(), "v1")
    recs = "/users/{user_id}/recommendations"
    status, body = r("GET", "/users/ann/recommendations", recs, query={"explain": "true"})
    assert status == 200 and body["items"] and all(0 <= i["score"] <= 1 for i in body["items"])
    assert r("GET", "/users/nobody/recommendations", recs)[0] == 200
    assert r("GET", "/users/ann/recommendations", recs, query={"k": "0"})[0] == 400
    assert r("GET", "/users/a b/recommendations", recs)[0] == 400
    rank = "/users/{user_id}/rank"
    status, body = r("POST", "/users/ann/rank", rank, body={"item_ids": ["m7", "ghost"], "explain": True})
    assert status == 200 and body["items"][-1] == {
        "item_id": "ghost",
        "score": None,
        "reasons": ["unknown to the model"],
    }
    assert r("POST", "/users/ann/rank", rank, body={"item_ids": []})[0] == 400
    assert r("POST", "/users/ann/rank", rank, body="item_ids=m1", content_type="text/plain")[0] == 415
    assert r("POST", "/users/ann/rank", rank, body="{not json")[0] == 400
    similar = "/items/{item_id}/similar"
    assert r("GET", "/items/m1/similar", similar)[0] == 200
    assert r("GET", "/items/ghost/similar", similar)[0] == 404
    assert r("GET", "/items/m1/similar", similar, query={"k": "101"})[0] == 400
    assert r("GET", "/popular", "/popular", query={"category": "Drama"})[0] == 200
    assert r("GET", "/popular", "/popular", query={"segment": "martians"})[0] == 404
    assert r("GET", "/popular", "/popular", query={"k": "x"})[0] == 400
    profile = "/users/{user_id}/profile"
    assert r("GET", "/users/ann/profile", profile)[0] == 200
    assert r("GET", "/users/zed/profile", profile)[0] == 404
    assert r("GET", "/segments", "/segments")[0] == 200
    members = "/segments/{segment}/users"
    status, body = r("GET", "/segments/new_users/users", members, query={"limit": "1"})
    assert status == 200 and body["users"][0]["user_id"] == "ann"
    assert r("GET", "/segments/martians/users", members)[0] == 404
    assert r("GET", "/segments/new_users/users", members, query={"cursor": "not a user id"})[0] == 400
    assert r("GET", "/segments/new_users/users", members, query={"limt": "5"})[0] == 400  # a typo is not ignored
    status, body = r("POST", "/events", "/events", body={"events": [ev(9, "bob"), {"event_type": "view"}, 3]})
    assert status == 200 and body["accepted"] == 1 and [x["index"] for x in body["rejected"]] == [1, 2]
    assert r("POST", "/events", "/events", body={"events": []})[0] == 400
    assert r("POST", "/events", "/events", body="x", content_type="text/csv")[0] == 415
    assert r("DELETE", "/users/ann", "/users/{user_id}") == (204, None)
    assert r("DELETE", "/users/a%", "/users/{user_id}")[0] == 400
    listed = aws_stack.client("s3").list_objects_v2(Bucket=aws_stack.env["MODEL_BUCKET"], Prefix="erasures/")
    [job] = [o["Key"].removeprefix("erasures/").removesuffix(".json") for o in listed["Contents"]]
    erasure = "/erasures/{erasure_id}"
    status, body = r("GET", f"/erasures/{job}", erasure)
    assert status == 200 and body["status"] == "pending" and body["counts"]["lines_removed"] == 0
    assert r("GET", f"/erasures/{'0' * 32}", erasure)[0] == 404
    assert r("GET", f"/erasures/{'x' * 65}", erasure)[0] == 400
    # with no model promoted yet: answers from live popularity and the catalogue, model_version null
    with r.without_model():
        assert r("GET", "/health", "/health")[1]["model_version"] is None
        status, body = r("GET", "/users/ann/recommendations", recs)
        assert status == 200 and body["model_version"] is None
        status, body = r("POST", "/users/ann/rank", rank, body={"item_ids": ["m1"]})
        assert status == 200 and body["model_version"] is None and body["items"][0]["score"] is None
        assert r("GET", "/items/m1/similar", similar)[0] == 404  # neither a model nor the catalogue knows it
        status, body = r("GET", "/popular", "/popular")
        assert status == 200 and body["model_version"] is None and body["window"] == "7d"
        assert r("GET", "/popular", "/popular", query={"window": "49h"})[0] == 400
        assert r("GET", "/popular", "/popular", query={"segment": "new_users", "window": "1h"})[0] == 404


def test_scores_share_one_scale_for_known_and_cold_start_users(aws_stack: AwsStack, routes: Any) -> None:
    publish_and_promote(aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"], tiny_model(), "v1")
    recs = "/users/{user_id}/recommendations"
    known = routes("GET", "/users/ann/recommendations", recs)[1]["items"]
    cold = routes("GET", "/users/stranger/recommendations", recs)[1]["items"]
    for page in (known, cold):
        scores = [i["score"] for i in page]
        assert scores == sorted(scores, reverse=True) and all(0 < s < 1 for s in scores)
    # both paths were calibrated when the model was trained (not the defaults)
    from pulse.recommend.ranker import Calibration, RankerSpec

    ranker = RankerSpec.model_validate_json(tiny_model().files["ranker.json"])
    assert ranker.calibration.warm != Calibration().warm and ranker.calibration.cold != Calibration().cold
