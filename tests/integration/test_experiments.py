"""Experiments end to end on moto: defined through the API, answers carry their variant, outcomes
sent through the updater (re-delivered and duplicated) are counted once, results and promotion.
Every answer is checked against the OpenAPI spec's schema."""

import json
import time
from typing import Any

import pytest

from pulse.recommend.artifacts import POINTER_KEY
from tests.conftest import AwsStack
from tests.integration.kit import kinesis_event
from tests.integration.test_api_contract import call
from tests.modelkit import manifest_for, publish_and_promote, tiny_model
from training.publish import publish

NOW = time.time()
EXP = "/experiments/{experiment_id}"


@pytest.fixture
def api(aws_stack: AwsStack) -> Any:
    s3, bucket = aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"]
    publish_and_promote(s3, bucket, tiny_model(seed=1), "v1")
    publish(s3, bucket, "v2", tiny_model(seed=2).files, manifest_for("v2", tiny_model(seed=2)))
    fn = aws_stack.handler("ApiFunction")

    def route(method: str, path: str, template: str, **kwargs: Any) -> tuple[int, Any]:
        return call(fn, aws_stack, "ApiFunction", method, path, template, **kwargs)

    return route


def definition(**extra: Any) -> dict[str, Any]:
    return {
        "description": "four arms",
        "variants": [
            {"name": "control", "weight": 1, "serve": {"strategy": "default"}},
            {"name": "newer", "weight": 1, "serve": {"strategy": "model", "model_version": "v2"}},
            {"name": "popular", "weight": 1, "serve": {"strategy": "popular"}},
            {"name": "frozen", "weight": 1, "serve": {"strategy": "frozen", "as_of": NOW - 86400}},
        ],
    } | extra


def recommend(api: Any, user: str) -> dict[str, Any]:
    status, body = api("GET", f"/users/{user}/recommendations", "/users/{user_id}/recommendations", query={"k": "5"})
    assert status == 200, body
    return body


def test_definitions_are_validated_stored_and_listed(api: Any) -> None:
    status, body = api("PUT", "/experiments/ab", EXP, body=definition())
    assert status == 201 and body["version"] == 1 and body["started_at"] and "salt" not in body
    status, body = api("PUT", "/experiments/ab", EXP, body=definition(description="renamed"))
    assert status == 200 and body["version"] == 2
    missing = definition(
        variants=[{"name": "a", "weight": 1, "serve": {"strategy": "model", "model_version": "v9"}}] * 1
    )
    missing["variants"].append({"name": "b", "weight": 1, "serve": {"strategy": "default"}})
    status, body = api("PUT", "/experiments/bad", EXP, body=missing)
    assert status == 400 and "v9" in body["error"]["message"]
    status, body = api("PUT", "/experiments/ab", EXP, body=definition(variants=definition()["variants"][:2]))
    assert status == 409 and "variants" in body["error"]["message"]
    status, body = api("PUT", "/experiments/bad", EXP, body={"variants": [{"name": "only", "weight": 1}]})
    assert status == 400
    assert api("GET", "/experiments", "/experiments")[1]["experiments"][0]["experiment_id"] == "ab"
    assert api("GET", "/experiments/none", EXP)[0] == 404


def click(user: str, rid: str, n: int, kind: str = "click", **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"{user}-{kind}-{n}",
        "event_type": kind,
        "user_id": user,
        "timestamp": NOW - 60 + n,
        "item_id": "m1",
        "recommendation_id": rid,
    } | extra


def test_answers_carry_sticky_variants_and_outcomes_count_once(aws_stack: AwsStack, api: Any) -> None:
    assert api("PUT", "/experiments/ab", EXP, body=definition())[0] == 201
    answers: dict[str, list[dict[str, Any]]] = {}
    seen: set[str] = set()
    for i in range(200):  # the salt is random: go on until every arm has users (24 at least)
        answers[f"u{i}"] = [recommend(api, f"u{i}") for _ in range(2)]
        seen |= {a["variant"] for a in answers[f"u{i}"]}
        if i >= 23 and len(seen) == 4:
            break
    variants = {user: {a["variant"] for a in pair} for user, pair in answers.items()}
    assert all(len(v) == 1 for v in variants.values())  # sticky
    assert {v for (v,) in variants.values()} == {"control", "newer", "popular", "frozen"}
    for pair in answers.values():
        assert pair[0]["experiment"] == "ab" and pair[0]["recommendation_id"] != pair[1]["recommendation_id"]
        if pair[0]["variant"] == "newer":
            assert pair[0]["model_version"] == "v2"
        elif pair[0]["variant"] in ("control", "frozen"):
            assert pair[0]["model_version"] == "v1"

    sent: dict[str, dict[str, float]] = {}
    events = []
    for n, (user, pair) in enumerate(sorted(answers.items())):
        rid = pair[0]["recommendation_id"]
        events.append(click(user, rid, n))
        events.append(click(user, rid, n, "purchase", value=10.0, quantity=2))
        tally = sent.setdefault(pair[0]["variant"], {"clicks": 0, "conversions": 0, "revenue": 0.0})
        tally["clicks"] += 1
        tally["conversions"] += 1
        tally["revenue"] += 20.0
    updater, context = aws_stack.handler("ProfileUpdaterFunction"), aws_stack.context("ProfileUpdaterFunction")
    updater(kinesis_event(events), context)
    updater(kinesis_event(events[:10]), context)  # Lambda re-delivered the start of the shard
    updater(kinesis_event(events[:6], first_seq=len(events) + 1), context)  # the producer sent some twice

    status, results = api("GET", "/experiments/ab/results", EXP + "/results")
    assert status == 200
    by_name = {v["name"]: v for v in results["variants"]}
    for name, tally in sent.items():
        row = by_name[name]
        users = sum(1 for v in variants.values() if v == {name})
        assert (row["users"], row["exposures"]) == (users, 2 * users)
        assert (row["clicks"], row["conversions"], row["revenue"]) == (
            tally["clicks"],
            tally["conversions"],
            tally["revenue"],
        )
        assert (
            row["click_through_rate"]["low"] <= row["click_through_rate"]["value"] <= row["click_through_rate"]["high"]
        )
    assert results["control"] == "control" and len(results["lifts"]) == 3 and results["summary"]


def test_stopping_keeps_results_and_promoting_serves_the_winner(aws_stack: AwsStack, api: Any) -> None:
    assert api("PUT", "/experiments/ab", EXP, body=definition())[0] == 201
    recommend(api, "alice")
    status, stopped = api("DELETE", "/experiments/ab", EXP)
    assert status == 200 and stopped["status"] == "stopped"
    assert "experiment" not in recommend(api, "alice")
    assert sum(v["exposures"] for v in api("GET", "/experiments/ab/results", EXP + "/results")[1]["variants"]) == 1
    status, body = api("POST", "/experiments/ab/promote", EXP + "/promote", body={"variant": "popular"})
    assert status == 400 and "nothing to promote" in body["error"]["message"]
    status, decided = api("POST", "/experiments/ab/promote", EXP + "/promote", body={"variant": "newer"})
    assert status == 200 and decided["promoted"]["model_version"] == "v2" and decided["promoted"]["summary"]
    s3 = aws_stack.client("s3")
    pointer = json.loads(s3.get_object(Bucket=aws_stack.env["MODEL_BUCKET"], Key=POINTER_KEY)["Body"].read())
    assert pointer["version"] == "v2" and pointer["promoted_by"] == "experiment ab" and pointer["history"] == ["v1"]


def test_erasing_a_user_deletes_the_record_of_their_exposure(aws_stack: AwsStack, api: Any) -> None:
    assert api("PUT", "/experiments/ab", EXP, body=definition())[0] == 201
    recommend(api, "gone")
    table = aws_stack.client("dynamodb")
    name = aws_stack.env["EXPERIMENTS_TABLE"]
    key = {"pk": {"S": "ab#u#gone"}, "sk": {"S": "-"}}
    assert "Item" in table.get_item(TableName=name, Key=key)
    assert api("DELETE", "/users/gone", "/users/{user_id}")[0] == 204
    assert "Item" not in table.get_item(TableName=name, Key=key)
