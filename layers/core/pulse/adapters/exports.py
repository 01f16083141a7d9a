"""Exports on AWS: job records and files in the model bucket (``exports/``), requests on a queue.

Files are written with a multipart upload of ``PART_BYTES`` parts (S3's minimum is 5 MiB), so the
exporter holds one part in memory; an aborted upload leaves nothing behind.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pulse.adapters.aws import JobRecords, s3_client, sqs_client
from pulse.config import Settings
from pulse.domain.exports import ExportJob
from pulse.ports import ExportFiles, ExportJobs, ExportQueue, ExportWriter, TransientFailure

JOBS_PREFIX = "exports/jobs/"
PART_BYTES = 8 * 1024 * 1024


class S3ExportJobs(ExportJobs):
    def __init__(self, settings: Settings) -> None:
        self._records = JobRecords(settings, JOBS_PREFIX, "export")

    def put(self, job: ExportJob) -> None:
        self._records.put(job.export_id, job.model_dump_json().encode())

    def get(self, export_id: str) -> ExportJob | None:
        found = self._records.get(export_id)
        return None if found is None else ExportJob.model_validate_json(found)


class SqsExportQueue(ExportQueue):
    def __init__(self, settings: Settings) -> None:
        self._sqs, self._url = sqs_client(settings), settings.export_queue_url

    def submit(self, export_id: str) -> None:
        try:
            self._sqs.send_message(QueueUrl=self._url, MessageBody=json.dumps({"export_id": export_id}))
        except (ClientError, BotoCoreError) as exc:
            raise TransientFailure(f"export queue: {exc}") from exc


class S3ExportFiles(ExportFiles):
    def __init__(self, settings: Settings) -> None:
        self._s3, self._bucket = s3_client(settings), settings.model_bucket

    def open(self, key: str, content_type: str) -> ExportWriter:
        return _Upload(self._s3, self._bucket, key, content_type)

    def url(self, key: str, seconds: int) -> str:
        return str(
            self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=seconds
            )
        )


class _Upload(ExportWriter):
    def __init__(self, s3: Any, bucket: str, key: str, content_type: str) -> None:
        self._s3, self._bucket, self._key = s3, bucket, key
        self._id = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)["UploadId"]
        self._parts: list[dict[str, Any]] = []
        self._buffer = bytearray()

    def write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= PART_BYTES:
            self._send()

    def _send(self) -> None:
        number = len(self._parts) + 1
        answer = self._s3.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=self._id, PartNumber=number, Body=bytes(self._buffer)
        )
        self._parts.append({"ETag": answer["ETag"], "PartNumber": number})
        self._buffer = bytearray()

    def close(self) -> None:
        if self._buffer or not self._parts:
            self._send()  # the last part may be smaller than 5 MiB
        self._s3.complete_multipart_upload(
            Bucket=self._bucket, Key=self._key, UploadId=self._id, MultipartUpload={"Parts": self._parts}
        )

    def abort(self) -> None:
        self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._id)
