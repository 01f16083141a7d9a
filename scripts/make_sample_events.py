"""Write ``events/``: one sample event per function and route, in the shape ``sam local invoke -e`` takes.

Run ``make events`` after changing a route; ``tests/integration/test_sample_events.py`` drives every
file through its handler.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from infrastructure.api_gateway import BoundRoute, LocalApi, _compile
from infrastructure.functions import ApiRoute
from infrastructure.schedule import scheduled_event
from infrastructure.sqs_source import sqs_record
from infrastructure.template import ROOT
from scripts.sample_requests import API_SAMPLES, SAMPLE_ERASURE, SAMPLE_EXPORT

EVENTS = ROOT / "events"
STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/pulse-EventStream"
T0 = 1_717_243_200  # 2024-06-01T12:00:00Z


def kinesis_batch() -> dict[str, object]:
    """A realistic batch: two shoppers, a movie fan rating what a recommendation showed her, a duplicate,
    and two records that must be dead-lettered."""
    events: list[object] = [
        {
            "event_id": "a-1",
            "event_type": "identify",
            "user_id": "alice",
            "timestamp": "2024-06-01T12:00:00Z",
            "traits": {"age": 31, "gender": "F", "country": "DE", "city": "Berlin", "plan": "premium"},
        },
        {
            "event_id": "a-2",
            "event_type": "search",
            "user_id": "alice",
            "timestamp": T0 + 5,
            "session_id": "s-a1",
            "query": "trail running shoes",
        },
        {
            "event_id": "a-3",
            "event_type": "view",
            "user_id": "alice",
            "timestamp": T0 + 20,
            "session_id": "s-a1",
            "item_id": "shoe-42",
            "item": {"category": ["Sports", "Shoes"], "brand": "Asics", "price": 129.0},
            "context": {"device": "ios", "page": "search"},
        },
        {
            "event_id": "a-4",
            "event_type": "add_to_cart",
            "user_id": "alice",
            "timestamp": T0 + 60,
            "session_id": "s-a1",
            "item_id": "shoe-42",
            "quantity": 1,
            "item": {"category": ["Sports", "Shoes"], "brand": "Asics", "price": 129.0},
        },
        {
            "event_id": "a-5",
            "event_type": "purchase",
            "user_id": "alice",
            "timestamp": T0 + 300,
            "session_id": "s-a1",
            "item_id": "shoe-42",
            "value": 129.0,
            "quantity": 1,
            "item": {"category": ["Sports", "Shoes"], "brand": "Asics", "price": 129.0},
        },
        {
            "event_id": "b-1",
            "event_type": "ad_impression",
            "user_id": "bob",
            "timestamp": T0 + 10,
            "item_id": "tv-7",
            "campaign_id": "summer-sale",
            "item": {"category": "Electronics", "brand": "Sony"},
        },
        {
            "event_id": "b-2",
            "event_type": "ad_click",
            "user_id": "bob",
            "timestamp": T0 + 12,
            "item_id": "tv-7",
            "campaign_id": "summer-sale",
        },
        {
            "event_id": "b-3",
            "event_type": "dislike",
            "user_id": "bob",
            "timestamp": T0 + 40,
            "item_id": "radio-1",
            "item": {"category": "Electronics", "brand": "Acme", "price": 19.0},
        },
        {
            "event_id": "c-1",
            "event_type": "rate",
            "user_id": "carol",
            "timestamp": "2024-06-01T13:00:00+02:00",
            "item_id": "movie-50",
            "value": 5,
            "item": {"category": ["Action", "Sci-Fi"], "title": "Star Wars (1977)"},
            "recommendation_id": "6f1c2a9e-8d41-4b7a-9c3e-2f5d7b1a0c44",  # from a recommendations response
        },
        {
            "event_id": "c-1",
            "event_type": "rate",
            "user_id": "carol",
            "timestamp": "2024-06-01T13:00:00+02:00",
            "item_id": "movie-50",
            "value": 5,
            "item": {"category": ["Action", "Sci-Fi"], "title": "Star Wars (1977)"},
            "recommendation_id": "6f1c2a9e-8d41-4b7a-9c3e-2f5d7b1a0c44",  # from a recommendations response
        },
        {
            "event_id": "i-1",
            "event_type": "item_update",  # a catalogue change: no user, keyed by its item
            "item_id": "shoe-43",
            "timestamp": T0 + 500,
            "item": {"title": "Trail runner", "categories": ["Sports", "Shoes"], "brand": "Asics", "price": 139.0},
        },
        {"event_id": "x-1", "event_type": "teleport", "user_id": "mallory", "timestamp": T0},
        "this is not JSON",
    ]
    records = []
    for i, event in enumerate(events):
        data = event if isinstance(event, str) else json.dumps(event)
        seq = f"4959033827149025660855969253836157109592157598913658{8800 + i:04d}"
        user = (event.get("user_id") or event["item_id"]) if isinstance(event, dict) else "unknown"
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": user,
                    "sequenceNumber": seq,
                    "data": base64.b64encode(data.encode()).decode(),
                    "approximateArrivalTimestamp": T0 + 400 + i / 10,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{seq}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/pulse-ProfileUpdaterRole",
                "awsRegion": "us-east-1",
                "eventSourceARN": STREAM_ARN,
            }
        )
    return {"Records": records}


def api_event(path: str, method: str, concrete: str, query: str, body: dict[str, object] | None) -> dict[str, object]:
    api = LocalApi()
    bound = BoundRoute(ApiRoute("sample", path, method, path != "/health"), _compile(path), lambda e: None)
    found = bound.pattern.match(concrete)
    assert found is not None
    raw = json.dumps(body).encode() if body is not None else b""
    headers = [
        ("Host", "abc123.execute-api.us-east-1.amazonaws.com"),
        ("User-Agent", "curl/8.5.0"),
        ("Accept", "application/json"),
        ("x-api-key", "sample-api-key"),
    ]
    if body is not None:
        headers.append(("Content-Type", "application/json"))
    event = api.build_event(bound, found.groupdict(), method, concrete, query, headers, raw, "203.0.113.10")
    ctx = event["requestContext"]
    assert isinstance(ctx, dict)
    ctx["path"] = f"/prod{concrete}"  # deployed, API Gateway puts the stage in front
    ctx["requestId"] = ctx["extendedRequestId"] = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    ctx["requestTime"], ctx["requestTimeEpoch"] = "01/Jun/2024:12:00:00 +0000", T0 * 1000
    return event


def main() -> None:
    out = EVENTS / "profile_updater" / "kinesis_batch.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(kinesis_batch(), indent=2) + "\n")
    for name, path, method, concrete, query, body in API_SAMPLES:
        target = EVENTS / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(api_event(path, method, concrete, query, body), indent=2) + "\n")
    request = api_event("/users/{user_id}/profile", "GET", "/users/alice/profile", "", None)
    request.pop("body"), request.pop("isBase64Encoded")
    arn = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/users/alice/profile"
    authorizer = EVENTS / "authorizer" / "request.json"
    authorizer.parent.mkdir(parents=True, exist_ok=True)
    authorizer.write_text(json.dumps({"type": "REQUEST", "methodArn": arn, **request}, indent=2) + "\n")
    job = {"erasure_id": SAMPLE_ERASURE, "user_id": "alice"}
    message = {
        "MessageId": "0b6f1c7e-2f4e-4a43-9c7b-3f1d2e5a6b7c",
        "ReceiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
        "Body": json.dumps(job),
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(T0 * 1000)},
    }
    queue_arn = "arn:aws:sqs:us-east-1:123456789012:pulse-ErasureQueue.fifo"
    eraser = EVENTS / "eraser" / "erasure_job.json"
    eraser.parent.mkdir(parents=True, exist_ok=True)
    eraser.write_text(json.dumps({"Records": [sqs_record(message, queue_arn, "us-east-1")]}, indent=2) + "\n")
    export: dict[str, Any] = {
        "MessageId": "7a1e2f3c-4b5d-4e6f-8a9b-0c1d2e3f4a5b",
        "ReceiptHandle": "AQEBexport",
        "Body": json.dumps({"export_id": SAMPLE_EXPORT}),
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(T0 * 1000)},
    }
    exporter = EVENTS / "exporter" / "export_job.json"
    exporter.parent.mkdir(parents=True, exist_ok=True)
    arn = "arn:aws:sqs:us-east-1:123456789012:pulse-ExportQueue"
    exporter.write_text(json.dumps({"Records": [sqs_record(export, arn, "us-east-1")]}, indent=2) + "\n")
    schedule = EVENTS / "segment_refresher" / "scheduled_event.json"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    rule = "arn:aws:events:us-east-1:123456789012:rule/pulse-SegmentRefresherFunctionEvery"
    event = scheduled_event(rule, "us-east-1", "123456789012", at=T0)
    event["id"] = "5f4f3b1c-2d7e-4c55-9a1e-0d6b8e3f2a10"  # fixed, so the file does not change on every run
    schedule.write_text(json.dumps(event, indent=2) + "\n")
    trainer = EVENTS / "trainer"
    trainer.mkdir(parents=True, exist_ok=True)
    event = scheduled_event(
        "arn:aws:events:us-east-1:123456789012:rule/pulse-TrainerFunctionDaily", "us-east-1", "123456789012", at=T0
    )
    event["id"] = "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
    (trainer / "scheduled_event.json").write_text(json.dumps(event, indent=2) + "\n")
    # what `pulse retrain --window-days 7` sends: every field optional
    (trainer / "on_demand.json").write_text(json.dumps({"window_days": 7}, indent=2) + "\n")
    print(f"wrote {7 + len(API_SAMPLES)} sample events under {EVENTS}")


if __name__ == "__main__":
    main()
