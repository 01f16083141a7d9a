"""Every file in events/ (the `sam local invoke -e` inputs) drives its handler in-process."""

import contextlib
import json
from typing import Any

import pytest

from infrastructure.template import ROOT
from tests.conftest import AwsStack
from tests.modelkit import manifest_for
from training.publish import publish

EVENTS = ROOT / "events"
SAMPLE_KEY = "sample-api-key"  # the key in the sample events, no secret
API_FILES = sorted((EVENTS / "api").glob("*.json"))


def load(path):
    return json.loads(path.read_text())


def test_kinesis_batch_drives_the_updater(aws_stack: AwsStack) -> None:
    # Given the sample batch (valid events, a duplicate, an unknown type and a non-JSON record)
    handler = aws_stack.handler("ProfileUpdaterFunction")
    # When the updater handles it
    result = handler(load(EVENTS / "profile_updater/kinesis_batch.json"), aws_stack.context("ProfileUpdaterFunction"))
    # Then nothing is retried, the bad records are dead-lettered and the profiles exist
    assert result == {"batchItemFailures": []}
    sqs = aws_stack.client("sqs")
    messages = sqs.receive_message(QueueUrl=aws_stack.env["DEAD_LETTER_QUEUE_URL"], MaxNumberOfMessages=10)
    reasons = sorted(json.loads(m["Body"])["reason"][:20] for m in messages["Messages"])
    assert len(reasons) == 2
    api = aws_stack.handler("ApiFunction")
    for user in ("alice", "bob", "carol"):
        event = load(EVENTS / "api/get_profile.json")
        event["path"] = f"/users/{user}/profile"
        event["pathParameters"] = {"user_id": user}
        response = api(event, aws_stack.context("ApiFunction"))
        assert response["statusCode"] == 200, response
    carol = json.loads(api(event, aws_stack.context("ApiFunction"))["body"])
    assert carol["behavior"]["counts"] == {"rate": 1}  # the duplicate event_id was applied once
    assert carol["behavior"]["from_recommendations"] == {"rate": 1}  # attributed to the response, once


def promote_model_knowing_the_sample_items(aws_stack: AwsStack) -> Any:
    import base64

    from pulse.domain.events import InvalidEvent, parse_event
    from tests.modelkit import Params, publish_and_promote, synthetic_events, train

    samples = []
    for record in load(EVENTS / "profile_updater/kinesis_batch.json")["Records"]:
        with contextlib.suppress(InvalidEvent):
            samples.append(parse_event(base64.b64decode(record["kinesis"]["data"]), now=4e9))
    result = train(
        sorted(synthetic_events() + samples, key=lambda e: e.timestamp),
        grid=[Params(method="ease", ease_lambda=50.0, neighbors=20)],
        say=lambda _: None,
    )
    publish_and_promote(aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"], result, "v-sample")
    return result


@pytest.mark.parametrize("path", API_FILES, ids=lambda p: p.name)
def test_api_samples_drive_the_api_function(aws_stack: AwsStack, path) -> None:
    model = promote_model_knowing_the_sample_items(aws_stack)
    if path.name in ("promote_model.json", "rollback_model.json"):  # the version the sample names, published
        from tests.modelkit import publish_and_promote

        version = load(EVENTS / "api/promote_model.json")["pathParameters"]["version"]
        bucket = aws_stack.env["MODEL_BUCKET"]
        if path.name == "rollback_model.json":
            publish_and_promote(aws_stack.client("s3"), bucket, model, version)
        else:
            publish(aws_stack.client("s3"), bucket, version, model.files, manifest_for(version, model))
    handler = aws_stack.handler("ProfileUpdaterFunction")
    handler(load(EVENTS / "profile_updater/kinesis_batch.json"), aws_stack.context("ProfileUpdaterFunction"))
    if path.name == "get_erasure.json":  # the job the sample asks about, as DELETE /users/alice records it
        from pulse.adapters.erasure import S3ErasureJobs
        from pulse.config import get_settings
        from pulse.domain.erasure import ErasureJob
        from scripts.make_sample_events import SAMPLE_ERASURE

        S3ErasureJobs(get_settings()).put(ErasureJob(SAMPLE_ERASURE, "0" * 64, requested_at=1.0, not_before=2.0))
    if path.name == "get_export.json":  # the job the sample asks about, as POST .../exports records it
        from pulse.adapters.exports import S3ExportJobs
        from pulse.config import get_settings
        from pulse.domain.exports import ExportJob
        from scripts.make_sample_events import SAMPLE_EXPORT

        job = ExportJob(export_id=SAMPLE_EXPORT, segment="new_users", format="csv", fields=[], requested_at=1.0)
        S3ExportJobs(get_settings()).put(job)
    api = aws_stack.handler("ApiFunction")
    if load(path)["path"].startswith("/experiments/") and path.name != "put_experiment.json":  # the one it names
        created = api(load(EVENTS / "api/put_experiment.json"), aws_stack.context("ApiFunction"))
        assert created["statusCode"] == 201, created
    response = api(load(path), aws_stack.context("ApiFunction"))
    assert response["statusCode"] in (200, 201, 202, 204), response
    if response["statusCode"] == 200 and response["multiValueHeaders"]["Content-Type"] == ["application/json"]:
        assert isinstance(json.loads(response["body"]), dict)
    elif response["statusCode"] == 200:  # the console's page and files
        assert response["multiValueHeaders"]["Content-Type"][0].startswith(("text/html", "text/javascript"))


def test_post_events_sample_drives_the_collector(aws_stack: AwsStack) -> None:
    response = aws_stack.handler("CollectorFunction")(
        load(EVENTS / "collector/post_events.json"), aws_stack.context("CollectorFunction")
    )
    body = json.loads(response["body"])
    assert response["statusCode"] == 200
    assert body["accepted"] == 1
    assert body["rejected"][0]["index"] == 1 and "between 1 and 5" in body["rejected"][0]["error"]
    kinesis = aws_stack.client("kinesis")
    stream = aws_stack.env["EVENT_STREAM"]
    total = 0
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        records = kinesis.get_records(ShardIterator=it["ShardIterator"])["Records"]
        total += len(records)
        assert all(r["PartitionKey"] == "alice" for r in records)
    assert total == 1


def test_authorizer_opens_the_routes_of_the_sample_keys_scopes(aws_stack: AwsStack) -> None:
    from pulse.adapters.clients import DynamoClientDirectory
    from pulse.config import get_settings

    handler = aws_stack.handler("AuthorizerFunction")
    event = load(EVENTS / "authorizer/request.json")
    denied = handler(event, aws_stack.context("AuthorizerFunction"))
    assert [s["Effect"] for s in denied["policyDocument"]["Statement"]] == ["Deny"]  # nobody's key yet
    DynamoClientDirectory(get_settings()).create("support-tool", ["profiles"], "uk-1", token=SAMPLE_KEY)
    allowed = handler(event, aws_stack.context("AuthorizerFunction"))
    [statement] = allowed["policyDocument"]["Statement"]
    prefix = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod"
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Resource"]) == [f"{prefix}/GET/swagger", f"{prefix}/GET/users/*/profile"]
    assert allowed["usageIdentifierKey"] == "uk-1" and allowed["context"] == {"client_id": "support-tool"}


def test_eraser_sample_runs_the_job_and_refuses_what_is_not_a_job(aws_stack: AwsStack) -> None:
    handler = aws_stack.handler("EraserFunction")
    event = load(EVENTS / "eraser/erasure_job.json")
    s3, bucket = aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"]
    s3.put_object(Bucket=bucket, Key="events/2024/06/01/12/a.gz", Body=b'{"user_id": "alice"}\n{"user_id": "bob"}\n')
    assert handler(event, aws_stack.context("EraserFunction")) == {"batchItemFailures": []}
    job_id = json.loads(event["Records"][0]["body"])["erasure_id"]
    record = json.loads(s3.get_object(Bucket=bucket, Key=f"erasures/{job_id}.json")["Body"].read())
    assert record["status"] == "done" and record["counts"]["lines_removed"] == 1
    current = s3.get_object(Bucket=bucket, Key="events/2024/06/01/12/a.gz")["Body"].read()
    assert current == b'{"user_id": "bob"}\n'
    event["Records"][0]["body"] = "not a job"
    failed = handler(event, aws_stack.context("EraserFunction"))
    assert failed == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_catalog_samples_drive_the_catalog_function(aws_stack: AwsStack) -> None:
    handler = aws_stack.handler("CatalogFunction")
    statuses = {}
    for name in ("put_item", "patch_item", "get_item", "post_items", "delete_item"):
        out = handler(load(EVENTS / f"catalog/{name}.json"), aws_stack.context("CatalogFunction"))
        statuses[name] = out["statusCode"]
        if name == "get_item":
            assert json.loads(out["body"])["available"] is False  # the patch before it
        if name == "post_items":
            assert json.loads(out["body"])["rejected"][0]["index"] == 1
    assert statuses == {"put_item": 201, "patch_item": 200, "get_item": 200, "post_items": 200, "delete_item": 204}


def test_trainer_sample_events_drive_the_trainer(aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the trainer's environment and an archive with nothing in it yet
    from pulse.adapters.aws import reset_cached_clients

    for key, value in aws_stack.specs["TrainerFunction"].environment.items():
        monkeypatch.setenv(key, value)
    reset_cached_clients()
    handler = aws_stack.handler("TrainerFunction")
    for name in ("scheduled_event.json", "on_demand.json"):
        # When the sample event runs it / Then the run is recorded as skipped: nothing archived yet
        record = handler(load(EVENTS / "trainer" / name), aws_stack.context("TrainerFunction"))
        assert record["status"] == "skipped" and "holds no event" in record["reason"], record
    assert record["trigger"] == "on demand" and record["window"]["days"] == 7
