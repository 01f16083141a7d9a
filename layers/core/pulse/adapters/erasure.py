"""Erasure on AWS: job records in the bucket, requests on a queue, and the pass over raw data.

- Job records: ``erasures/<id>.json`` in the model bucket (S3 reads are strongly consistent).
- Requests: one SQS message per job on the erasure queue, whose delay lets the archive's buffer
  reach S3 first.
- The pass: every version of every object under the archive's prefixes (``events/``,
  ``events-errors/``) and ``dead-letters/`` is read; one that holds the users' lines is written again
  without them (when it is the current version; an object left empty is deleted) and the version
  that held them is deleted, so no previous version keeps them either. Then the dead-letter queue is
  read through: the users' letters are deleted, the others made visible again at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from pulse.adapters.aws import LETTERS_PREFIX, JobRecords, s3_client, sqs_client
from pulse.config import Settings
from pulse.domain.erasure import ErasureCounts, ErasureJob, letter_of, strip_lines
from pulse.ports import ErasureJobs, ErasureQueue, RawDataEraser, TransientFailure

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectVersionTypeDef

JOBS_PREFIX = "erasures/"
RAW_PREFIXES = ("events/", "events-errors/", LETTERS_PREFIX)
VISIBILITY_SECONDS = 120  # dead letters read by the pass stay hidden at most this long if it fails


class S3ErasureJobs(ErasureJobs):
    def __init__(self, settings: Settings) -> None:
        self._records = JobRecords(settings, JOBS_PREFIX, "erasure")

    def put(self, job: ErasureJob) -> None:
        self._records.put(job.erasure_id, job.to_json().encode())

    def get(self, erasure_id: str) -> ErasureJob | None:
        found = self._records.get(erasure_id)
        return None if found is None else ErasureJob.from_json(found)


class SqsErasureQueue(ErasureQueue):
    def __init__(self, settings: Settings) -> None:
        self._sqs = sqs_client(settings)
        self._url = settings.erasure_queue_url

    def submit(self, erasure_id: str, user_id: str) -> None:
        body = json.dumps({"erasure_id": erasure_id, "user_id": user_id})
        try:
            # FIFO, one group: one pass at a time; the id de-duplicates a resent request
            self._sqs.send_message(
                QueueUrl=self._url, MessageBody=body, MessageGroupId="erasures", MessageDeduplicationId=erasure_id
            )
        except (ClientError, BotoCoreError) as exc:
            raise TransientFailure(f"erasure queue: {exc}") from exc


class AwsRawDataEraser(RawDataEraser):
    def __init__(self, settings: Settings) -> None:
        self._s3 = s3_client(settings)
        self._sqs = sqs_client(settings)
        self._bucket = settings.model_bucket
        self._dead_letters = settings.dead_letter_queue_url

    def erase(self, user_ids: frozenset[str]) -> dict[str, ErasureCounts]:
        counts = {u: ErasureCounts() for u in user_ids}
        try:
            for prefix in RAW_PREFIXES:
                for version in self._versions(prefix):
                    self._erase_version(version, user_ids, counts)
            self._erase_letters(user_ids, counts)
        except (ClientError, BotoCoreError) as exc:
            raise TransientFailure(f"erasure pass: {exc}") from exc
        return counts

    def _versions(self, prefix: str) -> Iterator[ObjectVersionTypeDef]:
        pages = self._s3.get_paginator("list_object_versions").paginate(Bucket=self._bucket, Prefix=prefix)
        for page in pages:
            yield from page.get("Versions", [])

    def _erase_version(
        self, version: ObjectVersionTypeDef, user_ids: frozenset[str], counts: dict[str, ErasureCounts]
    ) -> None:
        key, version_id = version["Key"], version["VersionId"]
        body = self._s3.get_object(Bucket=self._bucket, Key=key, VersionId=version_id)["Body"].read()
        for one in counts.values():
            one.objects_scanned += 1
        gzipped = body[:2] == b"\x1f\x8b"  # by content: a name is only a name
        stripped = strip_lines(body, user_ids, gzipped)
        if stripped is None:
            return
        removed = stripped.removed
        if version.get("IsLatest") and not stripped.empty:
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=stripped.body)
            for user in removed:
                counts[user].objects_rewritten += 1
        self._s3.delete_object(Bucket=self._bucket, Key=key, VersionId=version_id)
        for user, lines in removed.items():
            counts[user].versions_deleted += 1
            counts[user].lines_removed += lines
            if key.startswith(LETTERS_PREFIX):
                counts[user].dead_letters_removed += 1

    def _erase_letters(self, user_ids: frozenset[str], counts: dict[str, ErasureCounts]) -> None:
        if not self._dead_letters:
            return
        kept: list[str] = []
        while True:
            found: Any = self._sqs.receive_message(
                QueueUrl=self._dead_letters, MaxNumberOfMessages=10, VisibilityTimeout=VISIBILITY_SECONDS
            )
            messages = found.get("Messages", [])
            if not messages:
                break
            for message in messages:
                owner, location = letter_of(message.get("Body", ""), user_ids)
                if owner is None:
                    kept.append(message["ReceiptHandle"])
                    continue
                if location and location.startswith(f"s3://{self._bucket}/"):
                    self._delete_every_version(location.removeprefix(f"s3://{self._bucket}/"))
                self._sqs.delete_message(QueueUrl=self._dead_letters, ReceiptHandle=message["ReceiptHandle"])
                counts[owner].dead_letters_removed += 1
        for handle in kept:  # the others are visible again for the operator at once
            self._sqs.change_message_visibility(QueueUrl=self._dead_letters, ReceiptHandle=handle, VisibilityTimeout=0)

    def _delete_every_version(self, key: str) -> None:
        for version in self._versions(key):
            if version["Key"] == key:
                self._s3.delete_object(Bucket=self._bucket, Key=key, VersionId=version["VersionId"])
