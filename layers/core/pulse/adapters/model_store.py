"""Reading model versions from the S3 model bucket (the only S3 code the API runs)."""

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from pulse.adapters.aws import s3_client
from pulse.config import Settings
from pulse.recommend.artifacts import MANIFEST, POINTER_KEY, ArtifactError, version_prefix

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def read_pointer(s3: "S3Client", bucket: str) -> dict[str, Any] | None:
    """The promotion pointer, or None when nothing has been promoted yet."""
    try:
        body = s3.get_object(Bucket=bucket, Key=POINTER_KEY)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NoSuchBucket"):
            return None
        raise
    pointer = json.loads(body)
    return pointer if isinstance(pointer, dict) and isinstance(pointer.get("version"), str) else None


def fetch_version(s3: "S3Client", bucket: str, version: str) -> tuple[bytes, dict[str, bytes]]:
    """The manifest and every file it lists; ``ArtifactError`` when they cannot be read."""
    prefix = version_prefix(version)
    try:
        manifest_bytes = s3.get_object(Bucket=bucket, Key=prefix + MANIFEST)["Body"].read()
        listed = json.loads(manifest_bytes).get("files", {})
        files = {name: s3.get_object(Bucket=bucket, Key=prefix + name)["Body"].read() for name in listed}
    except (ClientError, BotoCoreError, ValueError, AttributeError) as exc:
        raise ArtifactError(f"version {version} cannot be read: {exc}") from exc
    return manifest_bytes, files


class S3ModelSource:
    def __init__(self, settings: Settings) -> None:
        self.s3 = s3_client(settings)
        self.bucket = settings.model_bucket

    def pointer_version(self) -> str | None:
        pointer = read_pointer(self.s3, self.bucket)
        return pointer["version"] if pointer else None

    def fetch(self, version: str) -> tuple[bytes, dict[str, bytes]]:
        return fetch_version(self.s3, self.bucket, version)
