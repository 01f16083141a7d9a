"""Segments defined through the API on moto: validated, stored, filled from existing profiles by the
scheduled refresher's background pass, and removed again. Answers are checked against the spec."""

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from tests.conftest import AwsStack
from tests.integration.kit import ev, kinesis_event
from tests.integration.test_api_contract import call

SEGMENT = "/segments/{segment}"
SCHEDULE = json.loads((Path(__file__).parents[2] / "events/segment_refresher/scheduled_event.json").read_text())


def test_a_segment_defined_at_runtime_fills_from_existing_profiles_and_empties_when_deleted(
    aws_stack: AwsStack, override: Any
) -> None:
    updater = aws_stack.handler("ProfileUpdaterFunction")
    events = [ev(n, f"u{n}", "purchase", value=10.0 * n, item={"price": 1.0}) for n in range(1, 13)]
    updater(kinesis_event(events), aws_stack.context("ProfileUpdaterFunction"))
    api = aws_stack.handler("ApiFunction")

    def route(method: str, path: str, template: str, **kwargs: Any) -> tuple[int, Any]:
        return call(api, aws_stack, "ApiFunction", method, path, template, **kwargs)

    rule = {"rule": [{"feature": "total_spend", "op": ">=", "value": 80}], "description": "spent 80 or more"}
    status, body = route("PUT", "/segments/spent_80", SEGMENT, body=rule)
    assert status == 200 and body["version"] == 1 and body["evaluation"]["status"] == "pending", body
    status, body = route(
        "PUT", "/segments/spent_80", SEGMENT, body={"rule": [{"feature": "ltv", "op": ">", "value": 1}]}
    )
    assert status == 400 and "unknown feature 'ltv'" in body["error"]["message"]
    status, body = route(
        "PUT", "/segments/spent_80", SEGMENT, body={"rule": [{"feature": "sessions", "op": "~", "value": 1}]}
    )
    assert status == 400 and "unknown operator '~'" in body["error"]["message"]

    refresher = aws_stack.handler("SegmentRefresherFunction")
    context = aws_stack.context("SegmentRefresherFunction")
    assert refresher(SCHEDULE, context)["definitions_evaluated"] == 0  # not settled: updaters may not have it yet
    provider = aws_stack.dependencies("SegmentRefresherFunction")
    override(provider, replace(provider(), settle_seconds=0.0))
    result = refresher(SCHEDULE, context)
    assert result["definitions_evaluated"] == 12 and result["definitions"] == ["spent_80"]

    status, body = route("GET", "/segments/spent_80", SEGMENT)
    assert status == 200 and body["member_count"] == 5 and body["evaluation"]["status"] == "done"
    assert body["evaluation"]["scanned"] == 12 and not body["builtin"]
    status, page = route("GET", "/segments/spent_80/users", SEGMENT + "/users")
    assert sorted(m["user_id"] for m in page["users"]) == ["u10", "u11", "u12", "u8", "u9"]
    assert any(s["name"] == "spent_80" for s in route("GET", "/segments", "/segments")[1]["segments"])
    status, builtin = route("GET", "/segments/new_users", SEGMENT)
    assert status == 200 and builtin["builtin"] and builtin["version"] == 0

    assert route("DELETE", "/segments/spent_80", SEGMENT)[0] == 204
    assert route("GET", "/segments/spent_80", SEGMENT)[0] == 404
    refresher(SCHEDULE, context)
    counts = {s["name"]: s["members"] for s in route("GET", "/segments", "/segments")[1]["segments"]}
    assert "spent_80" not in counts
    assert route("GET", "/segments/spent_80/users", SEGMENT + "/users")[0] == 404
    table = aws_stack.client("dynamodb")
    members = table.query(
        TableName=aws_stack.env["SEGMENTS_TABLE"],
        KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "segment"},
        ExpressionAttributeValues={":s": {"S": "spent_80"}},
    )
    assert members["Count"] == 0  # the pass took every member out
