"""Helpers of the integration tests: events, Kinesis batches in Lambda's shape, the API called as
API Gateway calls it, and the dead-letter queue read back."""

import base64
import json
import time
from typing import Any

from tests.conftest import AwsStack

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
