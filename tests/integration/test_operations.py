"""The operator routes on moto: the overview counts what the updater did (once), model versions are
listed with their gate decision, promoted through the gate (409 refused, forced when asked), rolled
back; the console's page and files are served with their security headers."""

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


@pytest.fixture
def api(aws_stack: AwsStack) -> Any:
    fn = aws_stack.handler("ApiFunction")

    def route(method: str, path: str, template: str | None = None, **kwargs: Any) -> tuple[int, Any]:
        return call(fn, aws_stack, "ApiFunction", method, path, template or path, **kwargs)

    return route


def view(user: str, n: int) -> dict[str, Any]:
    return {"event_id": f"{user}-{n}", "event_type": "view", "user_id": user, "timestamp": NOW - 30, "item_id": "m1"}


def test_the_overview_counts_the_updaters_work_once_and_the_dead_letters(aws_stack: AwsStack, api: Any) -> None:
    status, empty = api("GET", "/overview")
    assert status == 200 and empty["model_version"] is None and empty["recent"]["events"] == 0
    assert len(empty["minutes"]) == 30 and empty["dead_letters_waiting"] == 0 and empty["users"] == 0
    events = [view("ann", 1), view("ann", 2), view("bob", 1)]
    updater, context = aws_stack.handler("ProfileUpdaterFunction"), aws_stack.context("ProfileUpdaterFunction")
    updater(kinesis_event([*events, b"not json"]), context)
    updater(kinesis_event(events), context)  # re-delivered: applied once, counted once
    status, seen = api("GET", "/overview")
    assert status == 200
    assert seen["recent"] == {"events": 3, "profiles": 2, "dead_letters": 1}
    assert sum(m["events"] for m in seen["minutes"]) == 3 and seen["users"] == 2
    assert seen["dead_letters_waiting"] == 1
    assert seen["alarms"] == []  # alarms exist on the local stack, none in ALARM
    cloudwatch = aws_stack.client("cloudwatch")
    name = next(a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"] if "DeadLetter" in a["AlarmName"])
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="a record was dead-lettered")
    assert [a["name"] for a in api("GET", "/overview")[1]["alarms"]] == [name]


def test_models_are_listed_promoted_through_the_gate_and_rolled_back(aws_stack: AwsStack, api: Any) -> None:
    assert api("GET", "/models")[1] == {"serving": None, "pointer": None, "total_versions": 0, "versions": []}
    assert api("POST", "/models/rollback")[0] == 409
    s3, bucket = aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"]
    publish_and_promote(s3, bucket, tiny_model(seed=1), "v1")
    refused = manifest_for("v2", tiny_model(seed=2)) | {"gate": {"promote": False, "reason": "worse than v1"}}
    publish(s3, bucket, "v2", tiny_model(seed=2).files, refused)
    status, listing = api("GET", "/models")
    assert status == 200 and listing["serving"] == "v1"
    assert [(v["version"], v["serving"]) for v in listing["versions"]] == [("v2", False), ("v1", True)]
    assert listing["versions"][0]["gate"]["reason"] == "worse than v1" and listing["versions"][1]["test"]
    older = tiny_model(seed=1)
    publish(s3, bucket, "v0", older.files, manifest_for("v0", older))
    newest = api("GET", "/models", query={"limit": "1"})[1]  # the newest, and the served one wherever it is
    assert newest["total_versions"] == 3 and [v["version"] for v in newest["versions"]] == ["v2", "v1"]

    status, body = api("POST", "/models/v2/promote", "/models/{version}/promote", body={})
    assert status == 409 and "worse than v1" in body["error"]["message"]
    assert api("POST", "/models/v9/promote", "/models/{version}/promote", body={})[0] == 404
    status, pointer = api("POST", "/models/v2/promote", "/models/{version}/promote", body={"force": True})
    assert status == 200 and pointer["version"] == "v2" and pointer["forced"] and pointer["history"] == ["v1"]
    assert pointer["promoted_by"] == "api" and pointer["applies_within_seconds"] > 0
    status, back = api("POST", "/models/rollback")
    assert status == 200 and back["version"] == "v1" and back["rolled_back_from"] == "v2"
    stored = json.loads(s3.get_object(Bucket=bucket, Key=POINTER_KEY)["Body"].read())
    assert stored["version"] == "v1" and stored["history"] == []


def test_a_tampered_version_is_never_promoted(aws_stack: AwsStack, api: Any) -> None:
    s3, bucket = aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"]
    publish(s3, bucket, "bad", tiny_model(seed=1).files, manifest_for("bad", tiny_model(seed=1)))
    s3.put_object(Bucket=bucket, Key="models/bad/popularity.npz", Body=b"not the file the manifest lists")
    status, body = api("POST", "/models/bad/promote", "/models/{version}/promote", body={"force": True})
    assert status == 409 and "cannot be served" in body["error"]["message"]
    assert api("GET", "/models")[1]["serving"] is None


def test_the_console_page_and_files_are_public_static_and_locked_down(aws_stack: AwsStack) -> None:
    fn = aws_stack.handler("ApiFunction")

    def get(path: str, template: str, stage: str = "prod") -> dict[str, Any]:
        context = {"requestId": "r", "stage": stage, "path": f"/{stage}{path}", "resourcePath": template}
        event: dict[str, Any] = {
            "resource": template,
            "path": path,
            "httpMethod": "GET",
            "headers": {},
            "requestContext": context,
        }
        event |= {"pathParameters": {"asset": path.rsplit("/", 1)[1]} if "{asset}" in template else None}
        answer: dict[str, Any] = fn(event, aws_stack.context("ApiFunction"))
        many = {name: values[-1] for name, values in (answer.get("multiValueHeaders") or {}).items()}
        return answer | {"headers": many | (answer.get("headers") or {})}

    page = get("/console", "/console")
    assert page["statusCode"] == 200 and page["headers"]["Content-Type"].startswith("text/html")
    assert '<base href="/prod/console/">' in page["body"] and 'content="/prod"' in page["body"]
    assert "script-src 'self'" in page["headers"]["Content-Security-Policy"]
    script = get("/console/app.js", "/console/{asset}")
    assert script["statusCode"] == 200 and script["headers"]["Content-Type"].startswith("text/javascript")
    assert get("/console/..%2Fapp.py", "/console/{asset}")["statusCode"] == 404
    assert get("/console/index.html", "/console/{asset}")["statusCode"] == 404  # the page has its own route
