"""POST /events: the collector in front of the stream (records Kinesis refuses, bodies refused with 4xx)."""

import json
from typing import Any

from tests.integration.kit import ev


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
