"""Model versions as an operator sees them: which exist, their offline figures and the training gate's
decision, which one serves; promotion through the gate and rollback (contract section 4).

One implementation for the ``pulse`` command and the API's ``/models`` routes. Promotion verifies the
version first (the loader the API serves with: checksums, formats, no pickle) and refuses, unless
forced (recorded as ``forced`` in the pointer), a version the training gate refused or, for a version
published before the gate, one whose offline NDCG@10 is more than 5 % below the served one's.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from pulse.errors import Conflict, UnknownModelVersion
from pulse.recommend.artifacts import ArtifactError, Fetched, load_model

GATE = 0.95  # a new version must keep at least 95 % of the served version's NDCG@10


class PromotionRefused(Conflict):
    """The gate, or the pointer's history, says no (HTTP 409 with the reason)."""


class VersionUnreadable(Conflict):
    """The version is missing, tampered or in a format this release cannot serve."""


class ModelBucket(Protocol):
    """What this service needs of the model bucket (``pulse.adapters.model_store.S3Models``)."""

    def versions(self) -> list[str]: ...
    def manifest(self, version: str) -> dict[str, Any] | None: ...
    def manifests(self, versions: list[str]) -> dict[str, dict[str, Any] | None]: ...
    def fetch(self, version: str) -> Fetched: ...
    def pointer(self) -> dict[str, Any] | None: ...
    def write_pointer(self, version: str, **note: Any) -> dict[str, Any]: ...
    def replace_pointer(self, pointer: dict[str, Any]) -> None: ...


def ndcg(manifest: dict[str, Any] | None) -> float | None:
    try:
        return float((manifest or {})["metrics"]["protocol_a"]["test"]["ndcg@10"])
    except (KeyError, TypeError, ValueError):
        return None


def summary(version: str, manifest: dict[str, Any] | None) -> dict[str, Any]:
    """What a listing shows of one version: what it was trained on, its figures, the gate's decision."""
    if manifest is None:
        return {"version": version, "error": "manifest missing or unreadable"}
    metrics = manifest.get("metrics", {}).get("protocol_a", {})
    test = {k: v for k, v in metrics.get("test", {}).items() if k in ("hr@10", "ndcg@10")}
    gate = manifest.get("gate")
    return {
        "version": version,
        "events": manifest.get("trained_on", {}).get("events"),
        "users": manifest.get("trained_on", {}).get("users"),
        "items": manifest.get("trained_on", {}).get("items"),
        "test": test,
        "baselines": {name: f.get("ndcg@10") for name, f in metrics.get("baselines", {}).items()},
        "training_seconds": manifest.get("training_seconds"),
        "gate": gate if isinstance(gate, dict) else None,
    }


def describe(bucket: ModelBucket, limit: int = 30) -> dict[str, Any]:
    """The newest ``limit`` versions (names sort by time), and the served one and those it would roll
    back to wherever they are, each with its summary; the pointer: what serves, since when, history."""
    pointer = bucket.pointer() or {}
    serving = pointer.get("version")
    every = bucket.versions()
    kept = set(every[-limit:]) | {v for v in [serving, *pointer.get("history", [])[:1]] if v in every}
    shown = [v for v in reversed(every) if v in kept]
    manifests = bucket.manifests(shown)
    versions = [summary(v, manifests.get(v)) | {"serving": v == serving} for v in shown]
    return {"serving": serving, "pointer": pointer or None, "total_versions": len(every), "versions": versions}


def _verified(bucket: ModelBucket, version: str) -> dict[str, Any]:
    """The version's manifest once its files load; a failure is told apart (no such version, or damaged)
    by a second look at the manifest, on the failure path only."""
    try:
        return load_model(version, *bucket.fetch(version)).manifest
    except ArtifactError as exc:
        if bucket.manifest(version) is None:
            raise UnknownModelVersion(f"no model version {version} in the model bucket") from exc
        raise VersionUnreadable(f"version {version} cannot be served: {exc}") from exc


def promote(bucket: ModelBucket, version: str, force: bool = False, **note: Any) -> dict[str, Any]:
    """Serve ``version`` (running API functions pick it up within their refresh interval)."""
    manifest = _verified(bucket, version)
    pointer = bucket.pointer() or {}
    current = pointer.get("version")
    if current == version:
        return pointer
    gate = manifest.get("gate")
    if isinstance(gate, dict):  # decided at training on the same held-out items: that decision stands
        if not gate.get("promote") and not force:
            raise PromotionRefused(f"{version}: the gate refused it at training: {gate.get('reason')}; force it")
    elif current and not force:
        served, candidate = ndcg(bucket.manifest(current)), ndcg(manifest)
        if served is not None and (candidate is None or candidate < GATE * served):
            raise PromotionRefused(
                f"{version}: NDCG@10 {candidate} is more than 5 % below the served {current} ({served:.4f}); "
                "force it to promote anyway"
            )
    return bucket.write_pointer(version, **({"forced": True} if force else {}), **note)


def rollback(bucket: ModelBucket, **note: Any) -> dict[str, Any]:
    """Serve the version served before the current one (verified first)."""
    pointer = bucket.pointer()
    if not pointer or not pointer.get("history"):
        raise PromotionRefused("nothing to roll back to: no version was served before this one")
    previous, *rest = pointer["history"]
    _verified(bucket, previous)
    new = {
        "version": previous,
        "promoted_at": time.time(),
        "history": rest,
        "rolled_back_from": pointer["version"],
        **note,
    }
    bucket.replace_pointer(new)
    return new
