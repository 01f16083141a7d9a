"""The profile pipeline on moto: updater handler, DynamoDB, SQS dead letters, and the profile routes."""

import base64
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from infrastructure.functions import KinesisSource
from infrastructure.kinesis_source import KinesisEventSource
from tests.conftest import AwsStack
from tests.fakes import ThrottlingStore

T0 = time.time() - 3 * 86400


def ev(i: int, user: str, kind: str = "view", **extra: Any) -> dict[str, Any]:
    body = {
        "event_id": f"{user}-{i}",
        "event_type": kind,
        "user_id": user,
        "timestamp": T0 + i,
        "item_id": f"sku{i % 4}",
        "item": {"category": ["Books", "Kids"][i % 2], "brand": "acme", "price": 12.0},
    }
    body.update(extra)
    return body


def kinesis_event(payloads: list[Any], first_seq: int = 1, shard: str = "shardId-000000000000") -> dict[str, Any]:
    recs = []
    for n, p in enumerate(payloads):
        raw = p if isinstance(p, bytes) else json.dumps(p).encode()
        seq = str(49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898 + first_seq + n)
        recs.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "p",
                    "sequenceNumber": seq,
                    "data": base64.b64encode(raw).decode(),
                    "approximateArrivalTimestamp": T0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard}:{seq}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/r",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s",
            }
        )
    return {"Records": recs}


class Api:
    def __init__(self, stack: AwsStack) -> None:
        self.stack = stack
        self.fn = stack.handler("ApiFunction")

    def __call__(
        self, method: str, path: str, params: dict[str, str] | None = None, query: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        resource = path
        for key, value in (params or {}).items():
            resource = resource.replace(value, "{" + key + "}")
        event = {
            "resource": resource,
            "path": path,
            "httpMethod": method,
            "headers": {},
            "multiValueHeaders": {},
            "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
            "pathParameters": params,
            "requestContext": {"requestId": "r", "stage": "prod", "resourcePath": resource, "httpMethod": method},
            "body": None,
            "isBase64Encoded": False,
        }
        out = self.fn(event, self.stack.context("ApiFunction"))
        return out["statusCode"], json.loads(out["body"]) if out.get("body") else None


def profile(api: Api, user: str) -> tuple[int, Any]:
    return api("GET", f"/users/{user}/profile", {"user_id": user})


def stable(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k not in ("version", "updated_at", "created_at")}


@pytest.fixture
def updater(aws_stack: AwsStack):
    handler = aws_stack.handler("ProfileUpdaterFunction")

    def call(event: dict[str, Any]) -> dict[str, Any]:
        return handler(event, aws_stack.context("ProfileUpdaterFunction"))

    call.dependencies = aws_stack.dependencies("ProfileUpdaterFunction")  # type: ignore[attr-defined]
    return call


def dead_letters(aws_stack: AwsStack) -> list[dict[str, Any]]:
    sqs = aws_stack.client("sqs")
    out: list[dict[str, Any]] = []
    while True:
        msgs = sqs.receive_message(QueueUrl=aws_stack.env["DEAD_LETTER_QUEUE_URL"], MaxNumberOfMessages=10)
        if not msgs.get("Messages"):
            return out
        out.extend(json.loads(m["Body"]) for m in msgs["Messages"])
        for m in msgs["Messages"]:
            sqs.delete_message(QueueUrl=aws_stack.env["DEAD_LETTER_QUEUE_URL"], ReceiptHandle=m["ReceiptHandle"])


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
    assert "Item" not in ddb.get_item(TableName=aws_stack.env["PROFILES_TABLE"], Key={"user_id": {"S": "eve"}})
    assert api("DELETE", "/users/eve", {"user_id": "eve"})[0] == 204  # erasure is idempotent


def test_post_events_retries_records_kinesis_reports_as_failed(aws_stack, override) -> None:
    from pulse.adapters.aws import KinesisEventPublisher
    from pulse.config import get_settings
    from pulse.wiring import CollectorDependencies

    collector = aws_stack.handler("CollectorFunction")
    real = aws_stack.client("kinesis")
    calls: list[int] = []

    class Flaky:
        def put_records(self, **kwargs: Any) -> Any:
            calls.append(len(kwargs["Records"]))
            response = real.put_records(**kwargs)
            if len(calls) == 1:  # pretend Kinesis throttled the first entry of the first call
                response["Records"][0] = {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "x"}
                response["FailedRecordCount"] = 1
            return response

    publisher = KinesisEventPublisher(get_settings(), sleep=lambda s: None, kinesis=Flaky())  # type: ignore[arg-type]
    override(aws_stack.dependencies("CollectorFunction"), CollectorDependencies(publisher))
    body = {"events": [ev(i, "fay") for i in range(3)] + [{"event_type": "view"}]}
    out = collector(
        {
            "resource": "/events",
            "path": "/events",
            "httpMethod": "POST",
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body),
            "requestContext": {"requestId": "r", "stage": "prod"},
            "isBase64Encoded": False,
            "queryStringParameters": None,
            "pathParameters": None,
        },
        aws_stack.context("CollectorFunction"),
    )
    result = json.loads(out["body"])
    assert out["statusCode"] == 200 and result["accepted"] == 3 and [r["index"] for r in result["rejected"]] == [3]
    assert calls == [3, 1]


def test_post_events_refuses_bad_bodies_with_4xx(aws_stack) -> None:
    collector = aws_stack.handler("CollectorFunction")

    def post(body: str, content_type: str = "application/json") -> tuple[int, Any]:
        out = collector(
            {
                "resource": "/events",
                "path": "/events",
                "httpMethod": "POST",
                "headers": {"Content-Type": content_type},
                "body": body,
                "requestContext": {"requestId": "r", "stage": "prod"},
                "isBase64Encoded": False,
                "queryStringParameters": None,
                "pathParameters": None,
            },
            aws_stack.context("CollectorFunction"),
        )
        return out["statusCode"], json.loads(out["body"])

    for body in ("{nope", "[]", '{"events": []}', json.dumps({"events": [ev(1, "x")] * 501}), '{"events": 3}'):
        status, answer = post(body)
        assert 400 <= status < 500 and answer["error"]["code"] == "invalid_request", (body[:30], status, answer)
    assert post('{"events": [1]}', "text/plain")[0] == 415
    assert post('{"events": [1]}', "multipart/form-data")[0] == 415
    status, answer = post(json.dumps({"events": [1, None, "x"]}))
    assert status == 200 and answer["accepted"] == 0 and len(answer["rejected"]) == 3


def test_events_from_a_recommendation_reach_the_profile_and_the_metric(aws_stack, updater, capsys) -> None:
    payloads = [ev(1, "cat", "click", recommendation_id="rec-9"), ev(2, "cat"), ev(3, "cat", "like")]
    capsys.readouterr()
    assert updater(kinesis_event(payloads)) == {"batchItemFailures": []}
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["EventsFromRecommendations"] for m in emf] == [[1.0]] and emf[0]["EventsApplied"] == [3.0]
    _, cat = profile(Api(aws_stack), "cat")
    assert cat["behavior"]["from_recommendations"] == {"click": 1}


def _members_by_query(aws_stack: AwsStack) -> dict[str, int]:
    """Every segment's audience, counted the slow way: a scan of the membership items."""
    ddb = aws_stack.client("dynamodb")
    out: dict[str, int] = {}
    for page in ddb.get_paginator("scan").paginate(TableName=aws_stack.env["SEGMENTS_TABLE"]):
        for item in page["Items"]:
            if not item["segment"]["S"].startswith("#"):
                out[item["segment"]["S"]] = out.get(item["segment"]["S"], 0) + 1
    return out


def _listed(api: Api) -> dict[str, int]:
    status, listing = api("GET", "/segments")
    assert status == 200
    found = {s["name"]: s["members"] for s in listing["segments"]}
    found.update({s["name"]: s["members"] for f in listing["families"] for s in f["segments"]})
    return {name: n for name, n in found.items() if n}


def test_segment_counts_follow_joins_leaves_refreshes_and_erasures_exactly(aws_stack, updater) -> None:
    # Given 40 users joining and leaving segments through the updater, the refresher and erasure
    import random

    rng = random.Random(7)
    api = Api(aws_stack)
    kinds = ["view", "add_to_cart", "purchase", "remove_from_cart", "rate"]
    users = [f"c{i:02d}" for i in range(40)]
    seq = 1
    for batch in range(4):
        events = []
        for u in users:
            for j in range(rng.randint(0, 4)):
                kind = rng.choice(kinds)
                extra: dict[str, Any] = {"value": 400.0 if kind == "purchase" else 4}
                if kind not in ("purchase", "rate"):
                    extra = {}
                cat = rng.choice(["Books", "Kids", "Toys"])
                events.append(ev(batch * 20_000 + j * 3000, u, kind, item={"category": cat, "price": 5.0}, **extra))
                events[-1]["event_id"] = f"{u}-{batch}-{j}"
        updater(kinesis_event(events, first_seq=seq))
        seq += len(events)
        # Then after every batch the listed counts equal the audiences, segment by segment
        assert _listed(api) == _members_by_query(aws_stack)
    handler = aws_stack.handler("SegmentRefresherFunction")
    sample = json.loads((Path(__file__).parents[2] / "events/segment_refresher/scheduled_event.json").read_text())
    refreshed = handler(sample, aws_stack.context("SegmentRefresherFunction"))
    assert refreshed["joined"] + refreshed["left"] > 0  # carts abandoned since, fans faded, ...
    assert _listed(api) == _members_by_query(aws_stack)
    for u in users[:10]:
        assert api("DELETE", f"/users/{u}", {"user_id": u})[0] == 204
    assert _listed(api) == _members_by_query(aws_stack)
    assert sum(_listed(api).values()) > 40


def test_a_transaction_that_only_lost_a_race_for_a_counter_is_sent_again(aws_stack, updater, monkeypatch) -> None:
    from pynamodb.connection import Connection
    from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

    original = Connection.transact_write_items
    losses = {"left": 2, "calls": 0}

    def contended(self, *args, **kwargs):  # the first two sends lose to another writer's transaction
        losses["calls"] += 1
        if losses["left"] > 0:
            losses["left"] -= 1
            cause = VerboseClientError(
                {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}},
                "TransactWriteItems",
                cancellation_reasons=[None, CancellationReason(code="TransactionConflict")],
            )
            raise TransactWriteError("Failed to write transaction items", cause=cause)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "transact_write_items", contended)
    api = Api(aws_stack)
    result = updater(kinesis_event([ev(1, "ray", "purchase", value=2.0)]))
    assert result == {"batchItemFailures": []} and losses["calls"] == 3
    assert "new_users" in profile(api, "ray")[1]["segments"]
    assert _listed(api) == _members_by_query(aws_stack) == {"new_users": 1, "fan:Kids": 1}
    # A transaction that keeps losing is a transient failure: the record is retried by Lambda
    losses["left"] = 99
    failed = updater(kinesis_event([ev(2, "sue", "purchase", value=2.0)], first_seq=5))
    assert len(failed["batchItemFailures"]) == 1
    assert profile(api, "sue")[0] == 404
    assert _listed(api) == _members_by_query(aws_stack)


def test_recount_sets_counters_from_the_audiences_even_while_memberships_change(
    aws_stack, updater, monkeypatch, capsys
) -> None:
    from pulse.adapters import tables as dynamo
    from scripts import resegment

    # Given memberships whose counters drifted (every counter reads 0)
    api = Api(aws_stack)
    updater(
        kinesis_event([ev(j, u, "purchase", value=1.0, item={"category": "Books"}) for u in "abcde" for j in (1, 2)])
    )
    expected = _members_by_query(aws_stack)
    assert expected == {"new_users": 5, "fan:Books": 5}
    ddb = aws_stack.client("dynamodb")
    table = aws_stack.env["SEGMENTS_TABLE"]
    for item in ddb.query(
        TableName=table, KeyConditionExpression="segment = :c", ExpressionAttributeValues={":c": {"S": "#counts"}}
    )["Items"]:
        ddb.update_item(
            TableName=table,
            Key={"segment": item["segment"], "user_id": item["user_id"]},
            UpdateExpression="SET members = :z",
            ExpressionAttributeValues={":z": {"N": "0"}},
        )
    assert not any(_listed(api).values())
    # When the counts are rebuilt while another user joins between the reading of an audience and the
    # writing of its counters (the first time only), into a counter that has members already
    late = next(f"late{i}" for i in range(1000) if dynamo.count_shard(f"late{i}") == dynamo.count_shard("a"))
    original_query = dynamo.SegmentMember.query.__func__  # type: ignore[attr-defined]
    raced: list[bool] = []

    def racing_query(cls, hash_key, *args, **kwargs):
        found = list(original_query(cls, hash_key, *args, **kwargs))
        if hash_key == "new_users" and not raced:
            raced.append(True)
            updater(kinesis_event([ev(5, late, "view", item={"category": "Toys"})], first_seq=50))
        return iter(found)

    monkeypatch.setattr(dynamo.SegmentMember, "query", classmethod(racing_query))
    assert resegment.main(["--recount-only"]) == 0
    assert "recounted" in capsys.readouterr().out and raced
    # Then every count is exact, the late joiner included
    assert _listed(api) == _members_by_query(aws_stack) == {"new_users": 6, "fan:Books": 5}


def test_membership_transactions_reuse_one_client(aws_stack, updater, monkeypatch) -> None:
    # A botocore client costs 60-90 ms of CPU to build; one per transaction made the updater 5x slower
    import botocore.session

    updater(kinesis_event([ev(1, "warm", "purchase", value=2.0)]))
    built = []
    original = botocore.session.Session.create_client

    def counting(self, *args, **kwargs):
        built.append(args[0] if args else kwargs.get("service_name"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", counting)
    # 20 new users, each joining segments: 20 membership transactions
    result = updater(kinesis_event([ev(1, f"new{i}", "purchase", value=2.0) for i in range(20)], first_seq=10))
    assert result == {"batchItemFailures": []} and built == []
    assert _listed(Api(aws_stack))["new_users"] == 21


def _stale_profiles(updater, users: list[str]):
    """Profiles as a release before due times wrote them: no segments, no due time."""
    from pulse.adapters.profile_store import DynamoProfileStore
    from pulse.config import get_settings
    from pulse.domain.updater import ProfileUpdate

    updater(kinesis_event([ev(1, u, "view", item={"brand": "acme", "price": 2.0}) for u in users]))
    store = DynamoProfileStore(get_settings())
    for user in users:
        stored = store.load(user)
        assert stored is not None
        stored.state.due_at, stored.state.profile.segments = None, []
        stored.state.profile.version += 1
        store.save(ProfileUpdate(state=stored.state), expected_version=stored.version)
    return store


def test_resegment_stopped_by_ctrl_c_saves_every_part_and_resumes(aws_stack, updater, monkeypatch, tmp_path) -> None:
    import os
    import signal

    from pulse.adapters.profile_store import DynamoProfileStore
    from scripts import resegment

    users = [f"k{i:02d}" for i in range(30)]
    _stale_profiles(updater, users)
    monkeypatch.setattr(resegment, "CHECKPOINT_EVERY", 1000)  # positions are saved only by the stop
    original_save = DynamoProfileStore.save
    written: list[str] = []
    interrupted: list[bool] = []

    def save(self, update, expected_version):
        written.append(update.state.profile.user_id)
        if len(written) == 4 and not interrupted:
            interrupted.append(True)
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, as the terminal sends it
        return original_save(self, update, expected_version)

    monkeypatch.setattr(DynamoProfileStore, "save", save)
    state = tmp_path / "state.json"
    assert resegment.main(["--workers", "3", "--state", str(state)]) == 130
    first = list(written)
    assert len(first) < len(users) and state.exists()
    written.clear()
    assert resegment.main(["--state", str(state), "--resume"]) == 0
    assert sorted(first + written) == users  # nothing lost, nothing written twice


def test_resegment_runs_in_parallel_parts_and_continues_where_a_failed_run_stopped(
    aws_stack, updater, monkeypatch, capsys, tmp_path
) -> None:
    from pulse.adapters.profile_store import DynamoProfileStore
    from pulse.ports import TransientFailure
    from scripts import resegment

    # Given 30 profiles as an older release wrote them (no segments, no due time)
    users = [f"r{i:02d}" for i in range(30)]
    store = _stale_profiles(updater, users)
    # When a run in 3 parts meets a write that fails beyond its retries (user r17, once)
    monkeypatch.setattr(resegment, "CHECKPOINT_EVERY", 1)
    original_save = DynamoProfileStore.save
    failing = {"r17": 1}
    written: list[str] = []

    def save(self, update, expected_version):
        user = update.state.profile.user_id
        if failing.get(user):
            failing[user] -= 1
            raise TransientFailure("ProvisionedThroughputExceededException")
        written.append(user)
        return original_save(self, update, expected_version)

    monkeypatch.setattr(DynamoProfileStore, "save", save)
    state = tmp_path / "state.json"
    assert resegment.main(["--workers", "3", "--state", str(state)]) == 1
    assert "again with --resume to continue" in capsys.readouterr().out
    saved = json.loads(state.read_text())
    assert saved["parts"] == 3 and sorted(saved["positions"].values(), key=str).count("done") == 2
    first = list(written)
    assert "r17" not in first and len(first) < len(users)
    # Then resuming it (with another --workers: the saved parts win) finishes only what was left
    written.clear()
    assert resegment.main(["--workers", "5", "--state", str(state), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resuming" in out and "1 of 3 parts left" in out and "(3 parts)" in out
    assert sorted(first + written) == users  # each profile written once over both runs
    assert not state.exists()
    for user in users:
        stored = store.load(user)
        assert stored is not None and stored.state.profile.segments == ["new_users"] and stored.state.due_at
    assert _listed(Api(aws_stack)) == {"new_users": 30}
