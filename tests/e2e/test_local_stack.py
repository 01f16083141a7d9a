"""The local stack end to end: HTTP in, Kinesis through the updater, profile out."""

import json
import re
import time
import uuid
from typing import Any

import requests

from infrastructure.local_stack import LocalStack


def wait_for(fn, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def test_health_round_trips_status_headers_and_body(local_stack: LocalStack) -> None:
    response = requests.get(f"{local_stack.api_url}/health", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["status"] == "ok"


def test_swagger_ui_tries_requests_against_the_server_that_served_it(local_stack: LocalStack) -> None:
    # Given the spec as Swagger UI loads it from the local stack
    spec = requests.get(f"{local_stack.api_url}/swagger", params={"format": "json"}, timeout=30).json()
    [server] = spec["servers"]
    assert "/events" in spec["paths"] and "/health" in spec["paths"]  # every function's routes
    # When "Try it out" sends a request to that server / Then it reaches the route (no stage prefix)
    tried = requests.get(f"{local_stack.api_url}{server['url'].rstrip('/')}/health", timeout=30)
    assert tried.status_code == 200
    page = requests.get(f"{local_stack.api_url}/swagger", timeout=30)
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    # an undeclared method on a known path is 405 with the allowed methods
    traced = requests.request("TRACE", f"{local_stack.api_url}/health", timeout=30)
    assert traced.status_code == 405 and traced.headers["Allow"] == "GET"


def test_unknown_route_and_bad_input_get_the_json_error_shape(local_stack: LocalStack) -> None:
    missing = requests.get(f"{local_stack.api_url}/nowhere", timeout=30)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "route_not_found"
    bad = requests.get(f"{local_stack.api_url}/users/not%20valid!/profile", timeout=30)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"
    body = requests.post(
        f"{local_stack.api_url}/events", data="{nope", timeout=30, headers={"Content-Type": "application/json"}
    )
    assert 400 <= body.status_code < 500 and "error" in body.json()


def test_event_posted_over_http_reaches_the_profile_through_kinesis(local_stack: LocalStack) -> None:
    user = f"e2e-{uuid.uuid4().hex[:8]}"
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_type": "purchase",
        "user_id": user,
        "timestamp": time.time(),
        "item_id": "sku-1",
        "value": 42.5,
        "quantity": 2,
        "item": {"category": "Books", "brand": "Acme"},
    }
    posted = requests.post(
        f"{local_stack.api_url}/events", json={"events": [event, {"event_type": "view"}]}, timeout=30
    )
    assert posted.status_code == 200
    assert posted.json()["accepted"] == 1 and posted.json()["rejected"][0]["index"] == 1

    def profile():
        r = requests.get(f"{local_stack.api_url}/users/{user}/profile", timeout=30)
        return r.json() if r.status_code == 200 else None

    found = wait_for(profile)
    assert found is not None, "the updater never built the profile"
    assert found["behavior"]["total_spend"] == 85.0
    assert found["preferences"]["categories"]["Books"] > 0


def test_kinesis_record_goes_through_the_updater_to_dynamodb(local_stack: LocalStack) -> None:
    kinesis = local_stack.client("kinesis")
    user = f"k-{uuid.uuid4().hex[:8]}"
    event = {"event_id": "k1", "event_type": "view", "user_id": user, "timestamp": time.time(), "item_id": "i"}
    kinesis.put_records(
        StreamName=local_stack.outputs()["EventStreamName"],
        Records=[
            {"Data": json.dumps(event).encode(), "PartitionKey": user},
            {"Data": b"not json", "PartitionKey": user},
        ],
    )
    table = local_stack.outputs()["ProfilesTableName"]
    ddb = local_stack.client("dynamodb")
    item = wait_for(lambda: ddb.get_item(TableName=table, Key={"user_id": {"S": user}}).get("Item"))
    assert item is not None and item["version"]["N"] == "1"
    sqs = local_stack.client("sqs")
    url = local_stack.outputs()["DeadLetterQueueUrl"]

    def letters():
        return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages")

    msgs = wait_for(letters)
    assert msgs and any("not UTF-8 JSON" in json.loads(m["Body"]).get("reason", "") for m in msgs)


def test_events_on_the_stream_are_archived_as_a_training_log(local_stack: LocalStack) -> None:
    # Given events posted over HTTP (so they reach the stream as producers put them)
    from training.eventlog import read_events

    user = f"archived-{uuid.uuid4().hex[:8]}"
    events: list[dict[str, Any]] = [
        {"event_id": str(uuid.uuid4()), "event_type": "view", "user_id": user, "timestamp": time.time() - n}
        | {"item_id": f"i{n}"}
        for n in range(3)
    ]
    assert requests.post(f"{local_stack.api_url}/events", json={"events": events}, timeout=30).json()["accepted"] == 3
    bucket = local_stack.outputs()["ModelBucketName"]
    s3 = local_stack.client("s3")

    def archived():  # every record of the stream is archived, other tests' malformed ones too
        read, _ = read_events(f"s3://{bucket}/events/", s3=s3)
        return {e.event_id for e in read if e.user_id == user} == {e["event_id"] for e in events}

    # Then the archive writes them under events/<yyyy/MM/dd/HH>/ as gzip JSON Lines the trainer reads
    assert wait_for(lambda: _has_objects(s3, bucket) and archived()), "the events never reached the archive"
    key = s3.list_objects_v2(Bucket=bucket, Prefix="events/")["Contents"][0]["Key"]
    assert re.fullmatch(r"events/\d{4}/\d{2}/\d{2}/\d{2}/.+\.gz", key), key


def _has_objects(s3, bucket: str) -> bool:
    return s3.list_objects_v2(Bucket=bucket, Prefix="events/").get("KeyCount", 0) > 0


def test_a_dead_letter_is_listed_and_replayed_onto_the_stream_by_the_cli(local_stack, monkeypatch, capsys) -> None:
    # Given an event whose producer's clock ran 5 minutes and 3 seconds ahead: the updater dead-letters it
    from scripts import dead_letters

    monkeypatch.setenv("AWS_ENDPOINT_URL", local_stack.config.endpoint)
    outputs = local_stack.outputs()
    where = ["--queue-url", outputs["DeadLetterQueueUrl"], "--stream", outputs["EventStreamName"]]
    user = f"late-{uuid.uuid4().hex[:8]}"
    ahead = time.time() + 303
    event = {"event_id": "a1", "event_type": "like", "user_id": user, "timestamp": ahead, "item_id": "i9"}
    local_stack.client("kinesis").put_record(
        StreamName=outputs["EventStreamName"], Data=json.dumps(event).encode(), PartitionKey=user
    )

    def listed() -> list[dict]:
        capsys.readouterr()
        assert dead_letters.main([*where, "list", "--json"]) == 0
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        return [r for r in rows if r["partition_key"] == user]

    # When it is listed (which leaves it in the queue)
    rows = wait_for(listed, timeout=30)
    assert rows and "ahead of the processor's clock" in rows[0]["reason"] and json.loads(rows[0]["payload"]) == event
    assert listed() == rows

    # And replayed once the clock has caught up
    time.sleep(max(0.0, ahead - 300 - time.time() + 0.5))
    assert dead_letters.main([*where, "replay", "--reason", "ahead of"]) == 0
    assert "replayed 1 records from 1 letters" in capsys.readouterr().out

    # Then the event reaches the profile through the stream, and the letter is gone
    def profile():
        r = requests.get(f"{local_stack.api_url}/users/{user}/profile", timeout=30)
        return r.json() if r.status_code == 200 else None

    found = wait_for(profile)
    assert found is not None and found["behavior"]["counts"] == {"like": 1}
    assert listed() == []


def test_a_cart_left_alone_reaches_cart_abandoners_through_the_schedule(local_stack) -> None:
    # Given a cart filled two hours ago and nothing since (the local stack fires schedules every second)
    user = f"cart-{uuid.uuid4().hex[:8]}"
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_type": "add_to_cart",
        "user_id": user,
        "timestamp": time.time() - 2 * 3600,
        "item_id": "sku-9",
    }
    assert requests.post(f"{local_stack.api_url}/events", json={"events": [event]}, timeout=30).json()["accepted"] == 1

    def audience() -> list[str]:
        r = requests.get(f"{local_stack.api_url}/segments/cart_abandoners/users?limit=100", timeout=30)
        return [u["user_id"] for u in r.json()["users"]] if r.status_code == 200 else []

    # Then, with no further event, the scheduled refresher puts the user in the audience
    assert wait_for(lambda: user in audience(), timeout=30), "the refresher never moved the cart"
    profile = requests.get(f"{local_stack.api_url}/users/{user}/profile", timeout=30).json()
    assert "cart_abandoners" in profile["segments"]


def test_a_historical_log_backfilled_by_the_cli_becomes_profiles(local_stack, monkeypatch, tmp_path, capsys) -> None:
    from scripts import backfill

    monkeypatch.setenv("AWS_ENDPOINT_URL", local_stack.config.endpoint)
    users = [f"hist-{uuid.uuid4().hex[:6]}-{n}" for n in range(3)]
    t0 = time.time() - 90 * 86400
    events = [
        {"event_id": f"{u}-{i}", "event_type": "rate", "user_id": u, "timestamp": t0 + i * 3600, "item_id": f"m{i}"}
        | {"value": 4}
        for u in users
        for i in range(5)
    ]
    log = tmp_path / "history.jsonl"
    log.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    stream = local_stack.outputs()["EventStreamName"]
    assert backfill.main(["--events", str(log), "--stream", stream, "--rate", "0"]) == 0
    assert "put 15 events" in capsys.readouterr().out

    def profiles():
        found = [requests.get(f"{local_stack.api_url}/users/{u}/profile", timeout=30) for u in users]
        return [r.json() for r in found] if all(r.status_code == 200 for r in found) else None

    built = wait_for(lambda: (p := profiles()) and all(x["behavior"]["counts"] == {"rate": 5} for x in p) and p)
    assert built, "the backfilled history never became profiles"
    from datetime import datetime

    # the profiles live at the history's own clock, 90 days ago, not at the time of the backfill
    assert all(abs(datetime.fromisoformat(p["behavior"]["first_seen"]).timestamp() - t0) < 1 for p in built)
    # and the scheduled refresher, which evaluates at today's clock, finds them lapsed (90 days quiet)
    assert wait_for(lambda: (p := profiles()) and all("lapsed_users" in x["segments"] for x in p), timeout=30)
