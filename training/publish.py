"""Publishing, promotion and rollback of model versions in the S3 model bucket (contract section 4).

A version's files are written once under ``models/<version>/``, ``manifest.json`` last; nothing is
overwritten. The pointer ``models/current.json`` names the served version and keeps the history of
earlier promotions, so rollback is one pointer write. Promotion loads and verifies the version first
(the same loader the API uses) and refuses, unless forced (recorded as ``forced`` in the pointer), a
version the training gate refused (``training.gate``) or, for a version published before the gate,
one whose offline NDCG@10 is more than 5 % below the served one's.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from pulse.adapters.model_store import S3Models, fetch_version, read_pointer
from pulse.recommend.artifacts import MANIFEST, RecModel, load_model, version_prefix
from pulse.services import model_versions
from pulse.services.model_versions import PromotionRefused

__all__ = [
    "PromotionRefused",
    "list_versions",
    "new_version",
    "promote",
    "publish",
    "read_pointer",
    "rollback",
    "served_model",
    "served_model_or_none",
    "version_summary",
]


def new_version(files: dict[str, bytes]) -> str:
    """The time to the millisecond and the files' digest: two runs on the same data within one second
    (retraining is that fast on small logs) made the same files, hence the same name, and the second
    could not publish."""
    now = time.time()
    digest = hashlib.sha256(b"".join(files[name] for name in sorted(files))).hexdigest()[:8]
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}Z-{digest}"


def publish(s3: Any, bucket: str, version: str, files: dict[str, bytes], manifest: dict[str, Any]) -> str:
    prefix = version_prefix(version)
    try:
        s3.head_object(Bucket=bucket, Key=prefix + MANIFEST)
        raise FileExistsError(f"version {version} already exists; versions are immutable")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
    for name, data in files.items():
        s3.put_object(Bucket=bucket, Key=prefix + name, Body=data)
    s3.put_object(
        Bucket=bucket,
        Key=prefix + MANIFEST,
        Body=json.dumps(manifest, indent=1).encode(),
        ContentType="application/json",
    )
    return version


def served_model(s3: Any, bucket: str) -> RecModel | None:
    """The served version, loaded as the API loads it (None when nothing is served)."""
    pointer = read_pointer(s3, bucket) or {}
    if not pointer.get("version"):
        return None
    return load_model(pointer["version"], *fetch_version(s3, bucket, pointer["version"]))


def served_model_or_none(s3: Any, bucket: str, say: Callable[[str], None]) -> RecModel | None:
    """The served version to beat. One that cannot be loaded cannot be served either, so the candidate
    is then judged against the baselines alone: said through ``say``, not raised."""
    try:
        return served_model(s3, bucket)
    except Exception as exc:  # noqa: BLE001  # tampered, missing or unreadable: no bar to clear
        say(f"the served version cannot be loaded ({exc}): the gate compares with the baselines alone")
        return None


def promote(s3: Any, bucket: str, version: str, force: bool = False) -> dict[str, Any]:
    return model_versions.promote(S3Models(s3, bucket), version, force)


def rollback(s3: Any, bucket: str) -> dict[str, Any]:
    return model_versions.rollback(S3Models(s3, bucket))


def list_versions(s3: Any, bucket: str) -> list[str]:
    return S3Models(s3, bucket).versions()


def version_summary(s3: Any, bucket: str, version: str) -> dict[str, Any]:
    """What ``pulse models`` shows of a version: what it was trained on and its offline figures."""
    return model_versions.summary(version, S3Models(s3, bucket).manifest(version))
