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

from pulse.adapters.model_store import fetch_version, read_pointer, write_pointer
from pulse.recommend.artifacts import MANIFEST, POINTER_KEY, RecModel, load_model, version_prefix

GATE = 0.95  # a new version must keep at least 95 % of the served version's NDCG@10


class PromotionRefused(Exception):
    pass


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


def ndcg(manifest: dict[str, Any]) -> float | None:
    try:
        return float(manifest["metrics"]["protocol_a"]["test"]["ndcg@10"])
    except (KeyError, TypeError, ValueError):
        return None


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
    manifest_bytes, files = fetch_version(s3, bucket, version)
    model = load_model(version, manifest_bytes, files)  # refuses tampered or unsafe versions
    pointer = read_pointer(s3, bucket) or {}
    current = pointer.get("version")
    if current == version:
        return pointer
    gate = model.manifest.get("gate")
    if isinstance(gate, dict):  # decided at training on the same held-out items: that decision stands
        if not gate.get("promote") and not force:
            raise PromotionRefused(f"{version}: the gate refused it at training: {gate.get('reason')}; use --force")
    elif current and not force:
        served = ndcg(json.loads(fetch_version(s3, bucket, current)[0]))
        candidate = ndcg(model.manifest)
        if served is not None and (candidate is None or candidate < GATE * served):
            raise PromotionRefused(
                f"{version}: NDCG@10 {candidate} is more than 5 % below the served {current} ({served:.4f}); "
                "use --force to promote anyway"
            )
    return write_pointer(s3, bucket, version, **({"forced": True} if force else {}))  # past the gate: it says so


def rollback(s3: Any, bucket: str) -> dict[str, Any]:
    pointer = read_pointer(s3, bucket)
    if not pointer or not pointer.get("history"):
        raise PromotionRefused("nothing to roll back to")
    previous, *rest = pointer["history"]
    load_model(previous, *fetch_version(s3, bucket, previous))
    new = {"version": previous, "promoted_at": time.time(), "history": rest, "rolled_back_from": pointer["version"]}
    s3.put_object(Bucket=bucket, Key=POINTER_KEY, Body=json.dumps(new).encode(), ContentType="application/json")
    return new


def list_versions(s3: Any, bucket: str) -> list[str]:
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="models/", Delimiter="/"):
        out += [p["Prefix"].split("/")[1] for p in page.get("CommonPrefixes", [])]
    return sorted(out)


def version_summary(s3: Any, bucket: str, version: str) -> dict[str, Any]:
    """What ``pulse models`` shows of a version: what it was trained on and its offline figures."""
    try:
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"models/{version}/{MANIFEST}")["Body"].read())
    except Exception as exc:  # noqa: BLE001  # a listing shows every version, readable or not
        return {"version": version, "error": f"manifest unreadable: {exc}"}
    metrics = manifest.get("metrics", {}).get("protocol_a", {})
    test = {k: v for k, v in metrics.get("test", {}).items() if k in ("hr@10", "ndcg@10")}
    return {
        "version": version,
        "events": manifest.get("trained_on", {}).get("events"),
        "test": test,
        "baselines": {name: f.get("ndcg@10") for name, f in metrics.get("baselines", {}).items()},
        "training_seconds": manifest.get("training_seconds"),
        "gate": manifest.get("gate"),
    }
