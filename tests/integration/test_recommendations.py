"""Recommendation routes and the model life cycle on moto, with small models trained in the test."""

import json
import time
from dataclasses import replace
from typing import Any

import pytest

from tests.conftest import AwsStack
from tests.integration.kit import Api, kinesis_event
from tests.modelkit import publish_and_promote, tiny_model
from training.publish import PromotionRefused, promote, rollback

NOW = time.time()


@pytest.fixture(scope="module")
def model_v1():
    return tiny_model(seed=1)


@pytest.fixture
def api(aws_stack: AwsStack, model_v1) -> Api:
    publish_and_promote(aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"], model_v1, "v1")
    return Api(aws_stack)


def get(api: Api, path: str, query: dict | None = None, params: dict | None = None):
    return api("GET", path, params, query)


def recs(api: Api, user: str, **query):
    return get(api, f"/users/{user}/recommendations", {k: str(v) for k, v in query.items()} or None, {"user_id": user})


def rate(i: int, user: str, item: str, genre: str) -> dict:
    return {
        "event_id": f"{user}-{i}",
        "event_type": "rate",
        "user_id": user,
        "timestamp": NOW - 100 + i,
        "item_id": item,
        "value": 5,
        "item": {"category": [genre], "title": f"Movie {item}"},
    }


def test_unknown_user_gets_cold_start_recommendations(api: Api) -> None:
    status, body = recs(api, "stranger", k=5, explain="true")
    assert status == 200 and len(body["items"]) == 5
    assert body["model_version"] == "v1" and body["user_id"] == "stranger" and body["recommendation_id"]
    assert all(item["reasons"] for item in body["items"])


def test_an_event_changes_the_very_next_answer(aws_stack: AwsStack, api: Api) -> None:
    updater = aws_stack.handler("ProfileUpdaterFunction")
    _, before = recs(api, "fan", k=10)
    # Given the user rates three Horror movies (m3, m7, m11 are Horror in the synthetic catalog)
    updater(
        kinesis_event([rate(i, "fan", f"m{3 + 4 * i}", "Horror") for i in range(3)]),
        aws_stack.context("ProfileUpdaterFunction"),
    )
    # When they ask again / Then the answer changed, leaves out what they rated and explains itself
    status, after = recs(api, "fan", k=10, explain="true")
    assert status == 200
    assert [i["item_id"] for i in after["items"]] != [i["item_id"] for i in before["items"]]
    assert not {"m3", "m7", "m11"} & {i["item_id"] for i in after["items"]}
    reasons = [r for i in after["items"] for r in i["reasons"]]
    assert any(r.startswith("because you rated Movie") for r in reasons)
    horror = sum("Horror" in i["metadata"]["category"] for i in after["items"][:4])
    assert horror >= 2
    assert after["recommendation_id"] != before["recommendation_id"]


def test_filters_exclude_category_and_k(aws_stack: AwsStack, api: Api) -> None:
    _, page = recs(api, "u1", k=8)
    first = page["items"][0]["item_id"]
    _, without = recs(api, "u1", k=8, exclude=f"{first},nope")
    assert first not in [i["item_id"] for i in without["items"]]
    _, comedy = recs(api, "u1", k=5, category="Comedy")
    assert comedy["items"] and all("Comedy" in i["metadata"]["category"] for i in comedy["items"])
    for bad in ("0", "101", "x"):
        status, body = recs(api, "u1", k=bad)
        assert status == 400 and body["error"]["code"] == "invalid_request"


def test_diversity_keeps_one_category_from_filling_the_page(api: Api) -> None:
    _, body = recs(api, "stranger", k=10)
    primaries = [i["metadata"]["category"][0] for i in body["items"]]
    assert max(primaries.count(p) for p in set(primaries)) <= 4


def test_rank_orders_known_items_and_keeps_unknown_ones_last(api: Api) -> None:
    status, body = api("POST", "/users/u1/rank", {"user_id": "u1"})  # no body
    assert status == 400 and body["error"]["code"] == "invalid_request"
    event_body = json.dumps({"item_ids": ["nope-1", "m1", "m2", "m5"], "explain": True})
    out = api.fn(
        {
            "resource": "/users/{user_id}/rank",
            "path": "/users/u1/rank",
            "httpMethod": "POST",
            "headers": {"Content-Type": "application/json"},
            "body": event_body,
            "pathParameters": {"user_id": "u1"},
            "queryStringParameters": None,
            "requestContext": {"requestId": "r", "stage": "prod"},
            "isBase64Encoded": False,
        },
        api.stack.context("ApiFunction"),
    )
    ranked = json.loads(out["body"])
    ids = [i["item_id"] for i in ranked["items"]]
    assert out["statusCode"] == 200 and sorted(ids[:3]) == ["m1", "m2", "m5"] and ids[3] == "nope-1"
    scores = [i["score"] for i in ranked["items"][:3]]
    assert scores == sorted(scores, reverse=True)


def test_similar_and_popular(api: Api) -> None:
    status, body = get(api, "/items/m3/similar", {"k": "3"}, {"item_id": "m3"})
    assert status == 200 and 0 < len(body["items"]) <= 3 and "m3" not in [i["item_id"] for i in body["items"]]
    assert get(api, "/items/ghost/similar", None, {"item_id": "ghost"})[0] == 404
    status, body = get(api, "/popular", {"k": "4"})
    assert status == 200 and len(body["items"]) == 4
    status, body = get(api, "/popular", {"k": "4", "segment": "age_25_34"})
    assert status == 200 and body["items"][0]["reasons"] == ["popular among age_25_34"]
    assert get(api, "/popular", {"segment": "martians"})[0] == 404
    status, body = get(api, "/popular", {"category": "Drama"})
    assert status == 200 and all("Drama" in i["metadata"]["category"] for i in body["items"])


def fresh_holder(aws_stack: AwsStack, override) -> Any:
    """A new model holder that checks the pointer on every request (a cold start of its own)."""
    from pulse.adapters.model_store import S3ModelSource
    from pulse.config import get_settings
    from pulse.services.model_holder import ModelHolder
    from pulse.services.recommendations import Serving

    provider = aws_stack.dependencies("ApiFunction")
    holder = ModelHolder(S3ModelSource(get_settings()), refresh_seconds=0)
    override(provider, replace(provider(), serving=Serving(holder)))  # no catalogue: the model alone
    return holder


def test_hot_reload_and_refusal_of_a_corrupt_version(aws_stack: AwsStack, api: Api, override) -> None:
    holder = fresh_holder(aws_stack, override)
    assert get(api, "/health")[1]["model_version"] == "v1"
    s3, bucket = aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"]
    # a new version is promoted: the running function switches without a redeploy
    publish_and_promote(s3, bucket, tiny_model(seed=2), "v2", force=True)
    assert recs(api, "u1")[1]["model_version"] == "v2"
    # a corrupt version is promoted (damaged after publishing): the function keeps serving v2
    publish_and_promote(s3, bucket, tiny_model(seed=3), "v3", force=True)
    s3.put_object(Bucket=bucket, Key="models/v3/neighbors.npz", Body=b"not the published bytes")
    status, body = recs(api, "u1")
    assert status == 200 and body["model_version"] == "v2" and holder.failures == 1
    assert "SHA-256" in holder.failed_versions["v3"]
    s3.put_object(Bucket=bucket, Key="models/current.json", Body=json.dumps({"version": "v4"}).encode())
    assert recs(api, "u1")[1]["model_version"] == "v2"  # v4 does not exist: keep serving
    holder = fresh_holder(aws_stack, override)
    s3.put_object(Bucket=bucket, Key="models/current.json", Body=json.dumps({"version": "v3"}).encode())
    status, body = recs(api, "u1")  # a cold start that finds only a corrupt version: no model, 503
    assert status == 503 and body["error"]["code"] == "model_unavailable"
    assert holder.failures >= 1


def test_promotion_gate_and_rollback(aws_stack: AwsStack, model_v1) -> None:
    s3, bucket = aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"]
    good, worse = tiny_model(seed=5), tiny_model(seed=4)
    good.manifest_info["metrics"]["protocol_a"]["test"]["ndcg@10"] = 0.20
    worse.manifest_info["metrics"]["protocol_a"]["test"]["ndcg@10"] = 0.18  # 10 % below: refused
    publish_and_promote(s3, bucket, good, "good")
    from training.publish import publish
    from training.train import manifest_for

    publish(s3, bucket, "worse", worse.files, manifest_for("worse", worse))
    with pytest.raises(PromotionRefused, match="5 %"):
        promote(s3, bucket, "worse")
    assert promote(s3, bucket, "worse", force=True)["version"] == "worse"
    assert rollback(s3, bucket)["version"] == "good"
    with pytest.raises(FileExistsError):
        publish(s3, bucket, "good", good.files, manifest_for("good", good))


def test_train_command_reads_an_s3_log_in_columns_and_publishes(aws_stack: AwsStack, tmp_path, capsys) -> None:
    import gzip

    from tests.modelkit import synthetic_events
    from training.__main__ import main

    s3, bucket = aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"]
    lines = [e.model_dump_json(exclude_none=True) for e in synthetic_events()]
    lines.insert(7, '{"event_type": "view"}')  # invalid: skipped and counted, the rest still trains
    s3.put_object(Bucket=bucket, Key="logs/events.jsonl.gz", Body=gzip.compress("\n".join(lines).encode()))
    rc = main(["train", "--events", f"s3://{bucket}/logs/events.jsonl.gz", "--bucket", bucket, "--promote"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert f"read {len(lines) - 1} events" in out and "1 invalid lines skipped (line " in out
    pointer = json.loads(s3.get_object(Bucket=bucket, Key="models/current.json")["Body"].read())
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"models/{pointer['version']}/manifest.json")["Body"].read())
    # the evaluation replayed profiles from events fetched again from S3 by line number
    assert manifest["trained_on"]["evaluated_users"] == 40
    assert manifest["metrics"]["protocol_a"]["test"]["users"] == 40


def test_an_s3_prefix_is_read_as_one_log_across_its_objects(aws_stack: AwsStack) -> None:
    import gzip

    from tests.modelkit import synthetic_events
    from training.eventlog import read_events, read_table

    s3, bucket = aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"]
    lines = [e.model_dump_json(exclude_none=True) for e in synthetic_events()]
    # an archive's layout: a folder marker, then gzip parts in time order
    s3.put_object(Bucket=bucket, Key="archive/", Body=b"")
    s3.put_object(Bucket=bucket, Key="archive/2024/06/01/part-b.gz", Body=gzip.compress("\n".join(lines[60:]).encode()))
    s3.put_object(Bucket=bucket, Key="archive/2024/06/01/part-a.gz", Body=gzip.compress("\n".join(lines[:60]).encode()))
    table, errors = read_table(f"s3://{bucket}/archive/", s3=s3)
    events, _ = read_events(f"s3://{bucket}/archive/", s3=s3)
    assert table.n_events == len(events) == len(lines) and errors == []
    assert [e.event_id for e in table.events_of(["u3"])["u3"]] == [e.event_id for e in events if e.user_id == "u3"]
    # one object is still one object
    single, _ = read_events(f"s3://{bucket}/archive/2024/06/01/part-a.gz", s3=s3)
    assert len(single) == 60


def test_a_version_is_read_in_parallel_byte_ranges_and_verified(aws_stack: AwsStack, monkeypatch) -> None:
    from pulse.adapters import model_store
    from pulse.recommend.artifacts import digest, load_model
    from training.publish import publish
    from training.train import manifest_for

    s3, bucket = aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"]
    result = tiny_model(seed=6)
    publish(s3, bucket, "ranged", result.files, manifest_for("ranged", result))
    monkeypatch.setattr(model_store, "PART_BYTES", 1000)  # the tiny model's larger files in several ranges
    assert max(len(d) for d in result.files.values()) > 3 * 1000
    manifest, files, digests = model_store.fetch_version(s3, bucket, "ranged")
    assert files == result.files and load_model("ranged", manifest, files, digests).n_items == 48
    assert digests == {name: digest(data) for name, data in files.items()}  # hashed as read, from these bytes
