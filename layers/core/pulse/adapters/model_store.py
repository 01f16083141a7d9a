"""Reading model versions from the S3 model bucket (the only S3 code the API runs)."""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from pulse.adapters.aws import s3_client
from pulse.config import Settings
from pulse.recommend.artifacts import MANIFEST, POINTER_KEY, ArtifactError, Fetched, digest, version_prefix

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from pulse.adapters.model_prefetch import Prefetch


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


def write_pointer(s3: "S3Client", bucket: str, version: str, **note: Any) -> dict[str, Any]:
    """Serve ``version``: the pointer names it, keeps the previous ones as history (rollback), and
    carries ``note`` (who promoted it and why). The caller has verified the version."""
    pointer = read_pointer(s3, bucket) or {}
    current = pointer.get("version")
    if current == version:
        return pointer
    history = ([current] if current else []) + list(pointer.get("history", []))
    new: dict[str, Any] = {"version": version, "promoted_at": time.time(), "history": history[:20], **note}
    s3.put_object(Bucket=bucket, Key=POINTER_KEY, Body=json.dumps(new).encode(), ContentType="application/json")
    return new


def version_exists(s3: "S3Client", bucket: str, version: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=version_prefix(version) + MANIFEST)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


# large files are read as ranged GETs of this size, in parallel: S3 serves each connection at about
# 100 MB/s; the local stack's moto copies the object for every range (274 MB: 16 MiB parts 1.06 s,
# 64 MiB 0.64 s, whole files 0.34 s, measured)
PART_BYTES = 64 * 1024 * 1024
READERS = 8


def fetch_version(s3: "S3Client", bucket: str, version: str) -> Fetched:
    """The manifest and every file it lists, read in parallel (files over ``PART_BYTES`` as byte
    ranges, as S3 recommends for throughput) and hashed on the same threads (hashlib lets go of the
    GIL: the files of a 1M-item model hash in half the time on two cores); ``ArtifactError`` when they
    cannot be read. The manifest's sizes only plan the ranges: the files are verified against it
    afterwards."""
    prefix = version_prefix(version)
    try:
        manifest_bytes = s3.get_object(Bucket=bucket, Key=prefix + MANIFEST)["Body"].read()
        listed = json.loads(manifest_bytes).get("files", {})
        parts: list[tuple[str, int, int | None]] = []  # file, first byte, last byte (None: the whole file)
        for name, meta in listed.items():
            size = int(meta.get("size", 0)) if isinstance(meta, dict) else 0
            if size <= PART_BYTES:
                parts.append((name, 0, None))
            else:
                parts += [(name, start, min(start + PART_BYTES, size) - 1) for start in range(0, size, PART_BYTES)]

        def read(part: tuple[str, int, int | None]) -> bytes:
            name, start, end = part
            ranged = {"Range": f"bytes={start}-{end}"} if end is not None else {}
            body: bytes = s3.get_object(Bucket=bucket, Key=prefix + name, **ranged)["Body"].read()  # type: ignore[arg-type]
            return body

        with ThreadPoolExecutor(READERS) as pool:
            pieces = list(pool.map(read, parts))
            chunks: dict[str, list[bytes]] = {}
            for (name, _, _), piece in zip(parts, pieces, strict=True):
                chunks.setdefault(name, []).append(piece)
            files = {name: b"".join(chunk) if len(chunk) > 1 else chunk[0] for name, chunk in chunks.items()}
            digests = dict(zip(files, pool.map(digest, files.values()), strict=True))
    except (ClientError, BotoCoreError, ValueError, AttributeError, TypeError) as exc:
        raise ArtifactError(f"version {version} cannot be read: {exc}") from exc
    return Fetched(manifest_bytes, files, digests)


class S3Models:
    """The model bucket as ``pulse.services.model_versions`` uses it (the API and the ``pulse`` command)."""

    def __init__(self, s3: "S3Client", bucket: str) -> None:
        self.s3, self.bucket = s3, bucket

    def versions(self) -> list[str]:
        out: list[str] = []
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix="models/", Delimiter="/")
        for page in pages:
            out += [p["Prefix"].split("/")[1] for p in page.get("CommonPrefixes", []) if "Prefix" in p]
        return sorted(out)

    def manifest(self, version: str) -> dict[str, Any] | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=version_prefix(version) + MANIFEST)["Body"].read()
            manifest = json.loads(body)
        except (ClientError, ValueError):
            return None
        return manifest if isinstance(manifest, dict) else None

    def manifests(self, versions: list[str]) -> dict[str, dict[str, Any] | None]:
        """Several manifests, read in parallel (a listing of many versions)."""
        with ThreadPoolExecutor(READERS) as pool:
            return dict(zip(versions, pool.map(self.manifest, versions), strict=True))

    def fetch(self, version: str) -> Fetched:
        return fetch_version(self.s3, self.bucket, version)

    def pointer(self) -> dict[str, Any] | None:
        return read_pointer(self.s3, self.bucket)

    def write_pointer(self, version: str, **note: Any) -> dict[str, Any]:
        return write_pointer(self.s3, self.bucket, version, **note)

    def replace_pointer(self, pointer: dict[str, Any]) -> None:
        body = json.dumps(pointer).encode()
        self.s3.put_object(Bucket=self.bucket, Key=POINTER_KEY, Body=body, ContentType="application/json")


class S3ModelSource(S3Models):
    """The served model's source (``ModelHolder``) and the bucket's versions (``model_versions``);
    ``prefetch``: the promoted version's files, read while the function initialised."""

    def __init__(self, settings: Settings, prefetch: "Prefetch | None" = None) -> None:
        super().__init__(s3_client(settings), settings.model_bucket)
        self.prefetch = prefetch

    def fetch(self, version: str) -> Fetched:
        fetched = self.prefetch.take(version) if self.prefetch is not None else None
        return fetched or super().fetch(version)

    def pointer_version(self) -> str | None:
        pointer = self.pointer()
        return pointer["version"] if pointer else None

    def exists(self, version: str) -> bool:
        return version_exists(self.s3, self.bucket, version)
