"""Audience exports on moto: requested through the API, written by the exporter from its queue as
gzip CSV / JSON Lines with the chosen fields (personal ones only when asked), fetched by URL."""

import csv
import gzip
import io
import json
from typing import Any
from urllib.parse import urlparse

from tests.conftest import AwsStack
from tests.integration.kit import ev, kinesis_event
from tests.integration.test_api_contract import call

EXPORTS = "/segments/{segment}/exports"


def download(aws_stack: AwsStack, url: str) -> bytes:
    """The file a presigned URL names (virtual-hosted or path style), read through the SDK."""
    bucket = aws_stack.env["MODEL_BUCKET"]
    path = urlparse(url).path.lstrip("/").removeprefix(bucket + "/")
    assert path.startswith("exports/new_users/") and path.endswith(".gz"), path
    body: bytes = aws_stack.client("s3").get_object(Bucket=bucket, Key=path)["Body"].read()
    return body


def run_exporter(aws_stack: AwsStack) -> dict[str, Any]:
    """What Lambda's SQS event source does: the queue's messages to the exporter."""
    sqs = aws_stack.client("sqs")
    url = aws_stack.stack.resources["ExportQueue"].ref
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
            "awsRegion": "us-east-1",
        }
        for m in messages
    ]
    handler = aws_stack.handler("ExporterFunction")
    result: dict[str, Any] = handler({"Records": records}, aws_stack.context("ExporterFunction"))
    return result


def test_an_audience_exports_with_its_fields_and_pii_only_when_asked(aws_stack: AwsStack) -> None:
    updater = aws_stack.handler("ProfileUpdaterFunction")
    traits: dict[str, Any] = {"age": 30, "country": "FR"}
    events = [ev(n, f"u{n:02d}", "purchase", value=5.0, item={"price": 5.0}) for n in range(25)]
    events += [ev(100 + n, f"u{n:02d}", "identify", traits=traits) for n in range(3)]
    updater(kinesis_event(events), aws_stack.context("ProfileUpdaterFunction"))
    api = aws_stack.handler("ApiFunction")

    def route(method: str, path: str, template: str, **kwargs: Any) -> tuple[int, Any]:
        return call(api, aws_stack, "ApiFunction", method, path, template, **kwargs)

    status, body = route("POST", "/segments/new_users/exports", EXPORTS, body={"fields": ["country"]})
    assert status == 400 and "include_pii" in body["error"]["message"]
    assert route("POST", "/segments/nobody/exports", EXPORTS, body={})[0] == 404
    ask = {"format": "csv", "fields": ["total_spend", "purchases", "country"], "include_pii": True}
    status, accepted = route("POST", "/segments/new_users/exports", EXPORTS, body=ask)
    assert status == 202 and accepted["status"] == "queued"
    export = f"/exports/{accepted['export_id']}"
    assert route("GET", export, "/exports/{export_id}")[1]["status"] == "queued"
    assert run_exporter(aws_stack) == {"batchItemFailures": []}
    status, done = route("GET", export, "/exports/{export_id}")
    assert status == 200 and done["status"] == "done" and done["rows"] == 25 and done["url"]
    data = download(aws_stack, done["url"])
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(data).decode())))
    assert len(rows) == 25 and list(rows[0]) == ["user_id", "total_spend", "purchases", "country"]
    by_user = {r["user_id"]: r for r in rows}
    assert by_user["u00"]["country"] == "FR" and by_user["u10"]["country"] == ""
    assert by_user["u05"]["total_spend"] == "5.0" and by_user["u05"]["purchases"] == "1"

    status, accepted = route("POST", "/segments/new_users/exports", EXPORTS, body={"format": "jsonl"})
    run_exporter(aws_stack)
    done = route("GET", f"/exports/{accepted['export_id']}", "/exports/{export_id}")[1]
    data = download(aws_stack, done["url"])
    lines = [json.loads(line) for line in gzip.decompress(data).decode().splitlines()]
    assert len(lines) == 25 and set(lines[0]) == {"user_id", "last_seen", "total_spend", "purchases", "sessions"}
    assert route("GET", "/exports/exp_000000000000000000000000", "/exports/{export_id}")[0] == 404


def test_the_daily_schedule_queues_an_export_of_each_configured_segment(aws_stack: AwsStack, monkeypatch: Any) -> None:
    from pathlib import Path

    from pulse.config import get_settings

    updater = aws_stack.handler("ProfileUpdaterFunction")
    updater(kinesis_event([ev(n, f"u{n}") for n in range(3)]), aws_stack.context("ProfileUpdaterFunction"))
    monkeypatch.setenv("DAILY_EXPORT_SEGMENTS", "new_users, no_such_segment")
    get_settings.cache_clear()
    schedule = json.loads((Path(__file__).parents[2] / "events/segment_refresher/scheduled_event.json").read_text())
    queued = aws_stack.handler("ExporterFunction")(schedule, aws_stack.context("ExporterFunction"))["queued"]
    assert len(queued) == 1  # the unknown segment is logged, not exported
    assert run_exporter(aws_stack) == {"batchItemFailures": []}
    api = aws_stack.handler("ApiFunction")
    status, done = call(api, aws_stack, "ApiFunction", "GET", f"/exports/{queued[0]}", "/exports/{export_id}")
    assert status == 200 and done["status"] == "done" and done["rows"] == 3 and done["segment"] == "new_users"
