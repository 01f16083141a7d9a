"""Erasure that holds, on the local stack: the profile at once, then the user's raw events in the
archive (every object version), in flight and re-sent by a producer, and their dead letters."""

import base64
import gzip
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from infrastructure.local_stack import LocalStack
from tests.e2e.conftest import running_stack
from tests.e2e.test_local_stack import wait_for

GONE, KEPT = "erase-me@shop", "keep-me"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with running_stack(parameters={"ErasureDelaySeconds": "3"}) as started:
        yield started


def event(user: str, n: int, **extra: Any) -> dict[str, Any]:
    base = {"event_id": f"{user}-{n}", "event_type": "view", "user_id": user, "timestamp": time.time(), "item_id": "i"}
    return base | extra


def raw_objects(stack: LocalStack) -> list[tuple[str, bytes]]:
    """Every version of every object under the prefixes that hold raw events, decompressed."""
    s3, bucket = stack.client("s3"), stack.outputs()["ModelBucketName"]
    found = []
    for prefix in ("events/", "events-errors/", "dead-letters/"):
        for version in s3.list_object_versions(Bucket=bucket, Prefix=prefix).get("Versions", []):
            body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])["Body"].read()
            found.append((version["Key"], gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body))
    return found


def mentions(stack: LocalStack, user: str) -> int:
    return sum(body.count(user.encode()) for _, body in raw_objects(stack))


def test_a_deleted_user_leaves_no_raw_event_and_stays_gone(stack: LocalStack) -> None:
    api, s3, bucket = stack.api_url, stack.client("s3"), stack.outputs()["ModelBucketName"]
    # Given a user with 13 archived events (with traits), another user, and a dead letter of each
    identify = event(GONE, 0, event_type="identify", traits={"age": 33, "zip": "10115", "email": "a@b.c"})
    identify.pop("item_id")
    events = [identify] + [event(GONE, n) for n in range(1, 13)] + [event(KEPT, n) for n in range(3)]
    assert requests.post(f"{api}/events", json={"events": events}, timeout=30).json()["accepted"] == 16
    kinesis, stream = stack.client("kinesis"), stack.outputs()["EventStreamName"]
    for user in (GONE, KEPT):  # valid JSON, not a valid event: the updater dead-letters it with its payload
        bad = json.dumps({"event_id": f"{user}-bad", "event_type": "teleport", "user_id": user}).encode()
        kinesis.put_record(StreamName=stream, Data=bad, PartitionKey=user)
    profile = f"{api}/users/{GONE}/profile"
    assert wait_for(lambda: requests.get(profile, timeout=30).status_code == 200)
    assert wait_for(lambda: mentions(stack, GONE) >= 13 and mentions(stack, KEPT) >= 3)
    # and an archive object the user's lines were overwritten in: its previous version still holds them
    key = "events/2026/12/01/00/manual-copy.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(json.dumps(event(GONE, 99)).encode() + b"\n"))
    s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(json.dumps(event(KEPT, 99)).encode() + b"\n"))

    # When the user is erased, with events in flight and a producer's retry right after
    deleted = requests.delete(f"{api}/users/{GONE}", timeout=30)
    assert deleted.status_code == 204 and deleted.headers["Location"].startswith("/erasures/")
    retry = [event(GONE, 5), event(GONE, 13)]
    assert requests.post(f"{api}/events", json={"events": retry}, timeout=30).json()["accepted"] == 2
    assert requests.get(profile, timeout=30).status_code == 404  # the profile is gone at once
    status = f"{api}{deleted.headers['Location']}"
    pending = requests.get(status, timeout=30).json()
    assert pending["status"] in ("pending", "running") and GONE not in json.dumps(pending)

    # Then the job completes and nothing of the user is left anywhere raw events are kept
    done = wait_for(lambda: requests.get(status, timeout=30).json()["status"] == "done", timeout=60)
    assert done, requests.get(status, timeout=30).json()
    job = requests.get(status, timeout=30).json()
    assert job["counts"]["lines_removed"] >= 16 and job["counts"]["versions_deleted"] >= 2, job
    assert job["counts"]["dead_letters_removed"] >= 1, job
    assert mentions(stack, GONE) == 0
    assert mentions(stack, KEPT) >= 5  # the others' events, their dead letter and the overwrite stay
    sqs, letters = stack.client("sqs"), stack.outputs()["DeadLetterQueueUrl"]
    kept = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=letters, MaxNumberOfMessages=10)["Messages"]]
    payloads = [base64.b64decode(letter.get("payload_base64", "")) for letter in kept]
    assert any(KEPT.encode() in p for p in payloads)  # the other user's letter is still there
    assert not any(GONE in json.dumps(letter) or GONE.encode() in p for letter, p in zip(kept, payloads, strict=True))
    time.sleep(1.5)  # what the retry put on the stream has been applied by now: the tombstone holds
    assert requests.get(profile, timeout=30).status_code == 404
    assert requests.get(f"{api}/erasures/{'f' * 32}", timeout=30).status_code == 404
