"""The profile pipeline on moto: updater handler, DynamoDB, SQS dead letters, and the profile routes."""

import base64
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3

from infrastructure.functions import KinesisSource
from infrastructure.kinesis_source import KinesisEventSource
from tests.fakes import ThrottlingStore
from tests.integration.kit import T0, Api, dead_letters, ev, kinesis_event, profile, stable


def test_mixed_batch_applies_every_valid_record_once_and_dead_letters_the_rest(aws_stack, updater) -> None:
    payloads = [
        ev(1, "ann"),
        b"\x00garbage",
        ev(2, "ann", "purchase", value=30.0),
        ev(3, "ben") | {"pad": "x" * 11_000},
        ev(4, "ben", "rate", value=0),
        ev(5, "ben", "like"),
    ]
    result = updater(kinesis_event(payloads))
    assert result == {"batchItemFailures": []}
    letters = dead_letters(aws_stack)
    assert len(letters) == 3
    assert {letter["sequence_number"][-2:] for letter in letters} == {"00", "02", "03"}  # positions 2, 4, 5
    assert all(letter["reason"] and letter["payload_base64"] and letter["shard_id"] for letter in letters)
    api = Api(aws_stack)
    _, ann = profile(api, "ann")
    _, ben = profile(api, "ben")
    assert ann["behavior"]["counts"] == {"purchase": 1, "view": 1} and ann["behavior"]["total_spend"] == 30.0
    assert ben["behavior"]["counts"] == {"like": 1}


def test_a_record_too_large_for_sqs_keeps_its_payload_in_the_bucket_and_its_neighbours_their_reasons(
    aws_stack, updater
) -> None:
    # Given a batch whose dead letters together (and one alone) exceed what SQS takes in one call
    huge = b'{"event_id": "' + b"x" * 1_048_576 + b'"}'  # a 1 MiB record (Kinesis takes up to 1 MiB)
    payloads = [ev(1, "ann"), huge, *[ev(10 + n, "bob", "rate", value=0) for n in range(9)], ev(2, "cat")]
    # When the updater takes the batch
    result = updater(kinesis_event(payloads))
    # Then every good record is applied, and every bad one is a letter with its own reason
    assert result == {"batchItemFailures": []}
    letters = dead_letters(aws_stack)
    assert len(letters) == 10 and all(letter["reason"] for letter in letters)
    [large] = [letter for letter in letters if "payload_s3" in letter]
    assert "10240" in large["reason"] and large["payload_bytes"] == len(huge)
    bucket, key = large["payload_s3"].removeprefix("s3://").split("/", 1)
    stored = aws_stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert stored == huge and key.startswith("dead-letters/")
    api = Api(aws_stack)
    assert profile(api, "ann")[0] == 200 and profile(api, "cat")[0] == 200 and profile(api, "bob")[0] == 404


def test_redelivery_bisection_and_duplicates_leave_one_clean_delivery(aws_stack, updater) -> None:
    payloads = [
        ev(i, ["ann", "ben"][i % 2], ["view", "add_to_cart", "like", "purchase"][i % 4], value=5.0) for i in range(12)
    ]
    api = Api(aws_stack)
    # one clean delivery, in a separate user namespace for comparison
    clean = [p | {"user_id": p["user_id"] + "-clean", "event_id": p["event_id"] + "-c"} for p in payloads]
    updater(kinesis_event(clean, first_seq=1000))
    # the real users: full batch, the same batch again, then its two bisected halves, then duplicates
    event = kinesis_event(payloads)
    updater(event)
    updater(event)
    updater({"Records": event["Records"][:6]})
    updater({"Records": event["Records"][6:]})
    updater(kinesis_event(payloads[:3], first_seq=500))  # producer re-sent 3 events: new records, same ids
    for user in ("ann", "ben"):
        got, want = profile(api, user)[1], profile(api, user + "-clean")[1]
        want["user_id"] = user
        assert stable(got) == stable(want)
        assert got["version"] == 1  # only the first delivery wrote


def test_throttled_write_makes_that_shard_resume_from_the_right_record(aws_stack, updater, override) -> None:
    # Given a stream with records of three users, and DynamoDB throttling ben's first write
    kinesis = aws_stack.client("kinesis")
    stream = aws_stack.env["EVENT_STREAM"]
    users = ["ann", "ben", "cat"]
    payloads = [ev(i, users[i % 3]) for i in range(9)]
    for p in payloads:
        kinesis.put_record(StreamName=stream, Data=json.dumps(p).encode(), PartitionKey="same-shard")
    deps = updater.dependencies()
    override(updater.dependencies, replace(deps, store=ThrottlingStore(deps.store, user="ben", times=1)))
    delivered: list[list[str]] = []

    def invoke(event: dict[str, Any]) -> Any:
        delivered.append([json.loads(base64.b64decode(r["kinesis"]["data"]))["event_id"] for r in event["Records"]])
        return updater(event)

    arn = f"arn:aws:kinesis:us-east-1:123456789012:stream/{stream}"
    source = KinesisSource(
        "S",
        stream,
        arn,
        batch_size=100,
        starting_position="TRIM_HORIZON",
        report_batch_item_failures=True,
        max_retries=3,
        bisect=True,
    )
    mapping = KinesisEventSource(source, "arn:fn", invoke, kinesis, aws_stack.client("sqs"), retry_delay=0)
    # When the event source delivers the shard
    while mapping.poll_once():
        pass
    # Then the retry starts exactly at ben's first record, and every profile is exact
    assert delivered[0] == [p["event_id"] for p in payloads]
    assert delivered[1] == [p["event_id"] for p in payloads[1:]]
    assert len(delivered) == 2
    api = Api(aws_stack)
    for user in users:
        status, body = profile(api, user)
        assert status == 200 and body["behavior"]["counts"] == {"view": 3} and body["version"] == 1


def test_a_batch_failing_from_its_first_record_is_reported_not_raised(aws_stack, updater, override) -> None:
    # Given DynamoDB throttling the only user of a batch: every record fails transiently
    deps = updater.dependencies()
    override(updater.dependencies, replace(deps, store=ThrottlingStore(deps.store, user="ann", times=1)))
    event = kinesis_event([ev(i, "ann") for i in range(3)])
    # Then the handler reports every record as an item failure (Lambda retries the batch as it is)
    # instead of raising, which would be a function error and make Lambda bisect the batch
    result = updater(event)
    assert result["batchItemFailures"] == [{"itemIdentifier": r["kinesis"]["sequenceNumber"]} for r in event["Records"]]
    assert updater(event) == {"batchItemFailures": []}
    assert profile(Api(aws_stack), "ann")[1]["behavior"]["counts"] == {"view": 3}


def test_segment_membership_follows_users_in_and_out(aws_stack, updater) -> None:
    api = Api(aws_stack)
    updater(kinesis_event([ev(1, "dan", "add_to_cart"), ev(2 * 3600, "dan", "view")]))
    status, page = api("GET", "/segments/cart_abandoners/users", {"segment": "cart_abandoners"})
    assert status == 200 and [u["user_id"] for u in page["users"]] == ["dan"]
    updater(kinesis_event([ev(3 * 3600, "dan", "purchase", item_id="sku1", value=3.0)], first_seq=10))
    _, page = api("GET", "/segments/cart_abandoners/users", {"segment": "cart_abandoners"})
    assert page["users"] == []
    assert "cart_abandoners" not in profile(api, "dan")[1]["segments"]


def test_the_scheduled_refresher_moves_a_silent_cart_into_cart_abandoners(aws_stack, updater) -> None:
    # Given a cart filled 3 days ago (T0) with nothing since: the updater's write cannot know it is
    # abandoned (1 hour has not passed at the latest event), so it records when that becomes due
    api = Api(aws_stack)
    plain = {"brand": "acme", "price": 2.0}  # no category: no fan segment fading meanwhile
    updater(kinesis_event([ev(1, "eve", "add_to_cart", item=plain), ev(4, "kim", "purchase", value=2.0, item=plain)]))
    assert "cart_abandoners" not in profile(api, "eve")[1]["segments"]
    ddb = aws_stack.client("dynamodb")
    table = aws_stack.env["PROFILES_TABLE"]
    item = ddb.get_item(TableName=table, Key={"user_id": {"S": "eve"}})["Item"]
    assert float(item["due_at"]["N"]) == T0 + 1 + 3600 + 1 and "due_shard" in item
    # When the schedule invokes the refresher with its sample event (what `sam local invoke -e` sends)
    sample = json.loads((Path(__file__).parents[2] / "events/segment_refresher/scheduled_event.json").read_text())
    handler = aws_stack.handler("SegmentRefresherFunction")
    result = handler(sample, aws_stack.context("SegmentRefresherFunction"))
    # Then it found eve through the index (kim has nothing due before new_users ends on day 7)
    assert (result["due"], result["refreshed"], result["joined"]) == (1, 1, 1)
    status, page = api("GET", "/segments/cart_abandoners/users", {"segment": "cart_abandoners"})
    assert status == 200 and [u["user_id"] for u in page["users"]] == ["eve"]
    assert "cart_abandoners" in profile(api, "eve")[1]["segments"]
    # And nothing else is due for either until new_users ends, 7 days after their first event
    for user in ("eve", "kim"):
        item = ddb.get_item(TableName=table, Key={"user_id": {"S": user}})["Item"]
        assert float(item["due_at"]["N"]) > time.time() + 3 * 86400
    assert handler(sample, aws_stack.context("SegmentRefresherFunction"))["due"] == 0


def test_resegment_brings_profiles_written_under_older_rules_up_to_date(aws_stack, updater, capsys) -> None:
    from pulse.adapters.profile_store import DynamoProfileStore
    from pulse.config import get_settings
    from pulse.domain.updater import ProfileUpdate
    from scripts import resegment

    # Given profiles stored as an older release wrote them: no due time, no cart_abandoners rule yet
    plain = {"brand": "acme", "price": 2.0}
    updater(kinesis_event([ev(1, "old1", "add_to_cart", item=plain), ev(2, "old2", "view", item=plain)]))
    store = DynamoProfileStore(get_settings())
    for user in ("old1", "old2"):
        stored = store.load(user)
        assert stored is not None
        stored.state.due_at, stored.state.profile.segments = None, []
        stored.state.profile.version += 1
        store.save(ProfileUpdate(state=stored.state), expected_version=stored.version)
    api = Api(aws_stack)
    assert profile(api, "old1")[1]["segments"] == []
    # When every profile is re-evaluated
    assert resegment.main([]) == 0
    assert "re-evaluated 2 of 2 profiles" in capsys.readouterr().out
    # Then the memberships are today's, in the audience lists too, and the refresher knows when they change
    assert profile(api, "old1")[1]["segments"] == ["cart_abandoners", "new_users"]  # the cart is 3 days old
    assert profile(api, "old2")[1]["segments"] == ["new_users"]
    _, page = api("GET", "/segments/cart_abandoners/users", {"segment": "cart_abandoners"})
    assert [u["user_id"] for u in page["users"]] == ["old1"]
    for user in ("old1", "old2"):
        stored = store.load(user)
        assert stored is not None and stored.state.due_at == T0 + (1 if user == "old1" else 2) + 7 * 86400 + 1


def test_segment_audience_is_paginated_and_listed_with_counts(aws_stack, updater) -> None:
    api = Api(aws_stack)
    users = [f"fan{i:02d}" for i in range(7)]
    updater(
        kinesis_event([ev(j, u, "purchase", value=1.0, item={"category": "Books"}) for u in users for j in range(2)])
    )
    seen, cursor = [], None
    while True:
        query = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        status, page = api("GET", "/segments/fan:Books/users", {"segment": "fan:Books"}, query)
        assert status == 200 and len(page["users"]) <= 3
        seen += [u["user_id"] for u in page["users"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == users
    status, listing = api("GET", "/segments")
    fans = next(f for f in listing["families"] if f["family"] == "category_fans")
    assert {"name": "fan:Books", "members": 7} in fans["segments"]
    assert next(s for s in listing["segments"] if s["name"] == "new_users")["members"] == 7
    assert api("GET", "/segments/fan:Books/users", {"segment": "fan:Books"}, {"cursor": "bo gus"})[0] == 400
    assert api("GET", "/segments/nope/users", {"segment": "nope"})[0] == 404
    assert api("GET", "/segments/fan:Books/users", {"segment": "fan:Books"}, {"limit": "0"})[0] == 400


def test_delete_erases_profile_memberships_and_idempotency_state(aws_stack, updater) -> None:
    api = Api(aws_stack)
    event = kinesis_event([ev(1, "eve", "purchase", value=2.0), ev(2, "eve", "purchase", value=2.0)])
    updater(event)
    assert profile(api, "eve")[0] == 200
    status, _ = api("DELETE", "/users/eve", {"user_id": "eve"})
    assert status == 204
    assert profile(api, "eve")[0] == 404
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    items = ddb.scan(TableName=aws_stack.env["SEGMENTS_TABLE"])["Items"]
    assert not [i for i in items if i["user_id"]["S"] == "eve"]
    # what is left is a tombstone: no profile data, only until when eve's events are dropped
    item = ddb.get_item(TableName=aws_stack.env["PROFILES_TABLE"], Key={"user_id": {"S": "eve"}})["Item"]
    assert set(item) == {"user_id", "version", "updated_at", "erased_until", "expires_at"}
    assert float(item["erased_until"]["N"]) > time.time() + 6 * 86400  # ErasureTombstoneDays: 7
    assert api("DELETE", "/users/eve", {"user_id": "eve"})[0] == 204  # erasure is idempotent
    # events in flight (re-delivered) and a producer's retry with new ids do not bring the profile back
    assert updater(event) == {"batchItemFailures": []}
    retry = kinesis_event([ev(3, "eve", "purchase", value=2.0)], first_seq=10)
    assert updater(retry) == {"batchItemFailures": []}
    assert profile(api, "eve")[0] == 404
    assert not [i for i in ddb.scan(TableName=aws_stack.env["SEGMENTS_TABLE"])["Items"] if i["user_id"]["S"] == "eve"]


def test_a_profile_that_cannot_be_decoded_is_isolated_and_can_still_be_erased(aws_stack, updater) -> None:
    # Given zoe's stored profile damaged by a broken writer (not zlib; the version moved on, as every
    # writer's does: the updater's cache of what it wrote relies on it), while she is in two segments
    api, ddb = Api(aws_stack), aws_stack.client("dynamodb")
    updater(kinesis_event([ev(1, "zoe", "purchase", value=2.0), ev(2, "zoe", "like")]))
    joined = {i["segment"]["S"] for i in ddb.scan(TableName=aws_stack.env["SEGMENTS_TABLE"])["Items"]}
    assert {"new_users", "fan:Kids"} <= joined
    table = aws_stack.env["PROFILES_TABLE"]
    ddb.update_item(
        TableName=table,
        Key={"user_id": {"S": "zoe"}},
        UpdateExpression="SET #s = :bad ADD #v :one",
        ExpressionAttributeNames={"#s": "state", "#v": "version"},
        ExpressionAttributeValues={":bad": {"B": b"not a profile"}, ":one": {"N": "1"}},
    )
    # When her next events arrive with another user's, then she is erased
    result = updater(kinesis_event([ev(3, "zoe", "view"), ev(4, "amy", "view")], first_seq=20))
    # Then her records are dead-lettered with the cause, amy is applied, nothing is retried...
    assert result == {"batchItemFailures": []} and profile(api, "amy")[0] == 200
    assert any("cannot be decoded" in letter["reason"] for letter in dead_letters(aws_stack))
    # ...and the erasure removes her memberships (found in the segments table) and counts
    assert api("DELETE", "/users/zoe", {"user_id": "zoe"})[0] == 204
    assert profile(api, "zoe")[0] == 404
    items = ddb.scan(TableName=aws_stack.env["SEGMENTS_TABLE"])["Items"]
    assert not [i for i in items if i["user_id"]["S"] == "zoe"]
    status, listing = api("GET", "/segments")
    assert status == 200 and {s["name"]: s["members"] for s in listing["segments"]}["new_users"] == 1  # amy


def test_events_from_a_recommendation_reach_the_profile_and_the_metric(aws_stack, updater, capsys) -> None:
    payloads = [ev(1, "cat", "click", recommendation_id="rec-9"), ev(2, "cat"), ev(3, "cat", "like")]
    capsys.readouterr()
    assert updater(kinesis_event(payloads)) == {"batchItemFailures": []}
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["EventsFromRecommendations"] for m in emf] == [[1.0]] and emf[0]["EventsApplied"] == [3.0]
    _, cat = profile(Api(aws_stack), "cat")
    assert cat["behavior"]["from_recommendations"] == {"click": 1}
