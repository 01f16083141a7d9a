"""Every file in events/ (the `sam local invoke -e` inputs) drives its handler in-process."""

import contextlib
import json

import pytest

from infrastructure.template import ROOT
from tests.conftest import AwsStack

EVENTS = ROOT / "events"
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


def promote_model_knowing_the_sample_items(aws_stack: AwsStack) -> None:
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


@pytest.mark.parametrize("path", API_FILES, ids=lambda p: p.name)
def test_api_samples_drive_the_api_function(aws_stack: AwsStack, path) -> None:
    promote_model_knowing_the_sample_items(aws_stack)
    handler = aws_stack.handler("ProfileUpdaterFunction")
    handler(load(EVENTS / "profile_updater/kinesis_batch.json"), aws_stack.context("ProfileUpdaterFunction"))
    response = aws_stack.handler("ApiFunction")(load(path), aws_stack.context("ApiFunction"))
    assert response["statusCode"] in (200, 204), response
    if response["statusCode"] == 200:
        assert isinstance(json.loads(response["body"]), dict)


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
