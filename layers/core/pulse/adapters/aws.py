"""boto3 adapters: dead letters to SQS, events to Kinesis. Clients are built in one place."""

import base64
import json
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pulse.config import Settings
from pulse.ports import DeadLetter, DeadLetterSink, EventPublisher, TransientFailure

# botocore's max_attempts counts every try including the first (standard mode).
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
PUT_RECORDS_LIMIT = 500
PUT_RECORDS_ATTEMPTS = 4


if TYPE_CHECKING:  # boto3-stubs: typed clients for mypy; the functions ship without them
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_kinesis.type_defs import PutRecordsRequestEntryTypeDef
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef


@lru_cache(maxsize=8)
def client(service: str, region: str, endpoint_url: str | None) -> Any:
    """One client per service and endpoint per process (each costs tens of ms of CPU to build)."""
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url, config=_CLIENT_CONFIG)  # type: ignore[call-overload]


def reset_cached_clients() -> None:
    """Forget the cached clients, settings and the SDK's default session (its credentials included):
    after the environment changed, nothing reaches the new target with the old endpoint or keys."""
    from pulse.config import get_settings

    boto3.DEFAULT_SESSION = None
    client.cache_clear()
    get_settings.cache_clear()


def kinesis_client(settings: Settings) -> "KinesisClient":
    found: KinesisClient = client("kinesis", settings.region, settings.endpoint_url)
    return found


def sqs_client(settings: Settings) -> "SQSClient":
    found: SQSClient = client("sqs", settings.region, settings.endpoint_url)
    return found


def s3_client(settings: Settings) -> "S3Client":
    found: S3Client = client("s3", settings.region, settings.endpoint_url)
    return found


SQS_MESSAGE_BYTES = 256 * 1024  # one message, and one SendMessageBatch call in all
LETTERS_PREFIX = "dead-letters/"  # in the model bucket: payloads too large for a message


def letter_body(letter: DeadLetter, payload_location: str | None = None) -> str:
    """The dead-letter message: why, where in the stream, and the original bytes (base64), or where
    in the bucket they are when they would not fit a message."""
    body: dict[str, Any] = {
        "reason": letter.reason,
        "shard_id": letter.shard_id,
        "sequence_number": letter.sequence_number,
        "event_source_arn": letter.event_source_arn,
        "partition_key": letter.partition_key,
        "approximate_arrival": letter.arrival,
    }
    if payload_location is None:
        body["payload_base64"] = base64.b64encode(letter.payload).decode()
    else:
        body |= {"payload_s3": payload_location, "payload_bytes": len(letter.payload)}
    return json.dumps(body)


class SqsDeadLetterSink(DeadLetterSink):
    """Letters to the dead-letter queue, up to 10 a call and never more than SQS takes in one call,
    so a large letter never makes its neighbours fail; a payload too large for a message is kept in
    the model bucket (``dead-letters/``) and the letter points to it."""

    def __init__(self, settings: Settings) -> None:
        self._sqs = sqs_client(settings)
        self._s3 = s3_client(settings)
        self._bucket = settings.model_bucket
        self._url = settings.dead_letter_queue_url

    def _body(self, letter: DeadLetter) -> str | None:
        body = letter_body(letter)
        if len(body.encode()) <= SQS_MESSAGE_BYTES:
            return body
        key = f"{LETTERS_PREFIX}{letter.shard_id}/{letter.sequence_number}"
        try:
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=letter.payload)
        except (ClientError, BotoCoreError):
            return None
        return letter_body(letter, f"s3://{self._bucket}/{key}")

    def send(self, letters: Sequence[DeadLetter]) -> list[DeadLetter]:
        failed: list[DeadLetter] = []
        batch: list[tuple[DeadLetter, str]] = []
        for letter in letters:
            body = self._body(letter)
            if body is None:
                failed.append(letter)
                continue
            if len(batch) == 10 or sum(len(b.encode()) for _, b in batch) + len(body.encode()) > SQS_MESSAGE_BYTES:
                failed += self._send_batch(batch)
                batch = []
            batch.append((letter, body))
        return failed + (self._send_batch(batch) if batch else [])

    def _send_batch(self, batch: list[tuple[DeadLetter, str]]) -> list[DeadLetter]:
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(i), "MessageBody": body} for i, (_, body) in enumerate(batch)
        ]
        try:
            response = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
        except (ClientError, BotoCoreError):
            return [letter for letter, _ in batch]
        return [batch[int(f["Id"])][0] for f in response.get("Failed", [])]


class KinesisEventPublisher(EventPublisher):
    def __init__(
        self, settings: Settings, sleep: Callable[[float], None] = time.sleep, kinesis: "KinesisClient | None" = None
    ) -> None:
        self._kinesis = kinesis or kinesis_client(settings)
        self._stream = settings.event_stream
        self._sleep = sleep

    def publish(self, records: Sequence[tuple[str, bytes]]) -> list[int]:
        failed: list[int] = []
        for start in range(0, len(records), PUT_RECORDS_LIMIT):
            pending = list(range(start, min(start + PUT_RECORDS_LIMIT, len(records))))
            for attempt in range(PUT_RECORDS_ATTEMPTS):
                entries: list[PutRecordsRequestEntryTypeDef] = [
                    {"PartitionKey": records[i][0], "Data": records[i][1]} for i in pending
                ]
                try:
                    response = self._kinesis.put_records(StreamName=self._stream, Records=entries)
                except (ClientError, BotoCoreError):
                    errors = [True] * len(pending)
                else:
                    errors = ["ErrorCode" in r for r in response["Records"]]
                # PutRecords is not atomic: retry only the entries Kinesis reports as failed.
                pending = [i for i, failed_entry in zip(pending, errors, strict=True) if failed_entry]
                if not pending:
                    break
                if attempt + 1 < PUT_RECORDS_ATTEMPTS:
                    self._sleep(0.05 * 2**attempt)
            failed.extend(pending)
        return failed


class JobRecords:
    """Small JSON records of jobs (erasures, exports) in the model bucket: S3 reads are strongly
    consistent, and a record costs nothing while it waits."""

    def __init__(self, settings: Settings, prefix: str, what: str) -> None:
        self._s3, self._bucket, self._prefix, self._what = s3_client(settings), settings.model_bucket, prefix, what

    def put(self, record_id: str, body: bytes) -> None:
        try:
            self._s3.put_object(
                Bucket=self._bucket, Key=f"{self._prefix}{record_id}.json", Body=body, ContentType="application/json"
            )
        except (ClientError, BotoCoreError) as exc:
            raise TransientFailure(f"{self._what} record: {exc}") from exc

    def get(self, record_id: str) -> bytes | None:
        try:
            found = self._s3.get_object(Bucket=self._bucket, Key=f"{self._prefix}{record_id}.json")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise TransientFailure(f"{self._what} record: {exc}") from exc
        body: bytes = found["Body"].read()
        return body
