"""Model artefacts (contract section 4): a version is a folder of ``.npz`` / JSON files plus a manifest.

``models/<version>/manifest.json`` lists every file with its SHA-256 and size, the format version, what
the model was trained on and its offline metrics. Loading verifies every checksum and size and reads
arrays with ``allow_pickle=False``; anything else is refused with ``ArtifactError``. numpy only: this
module is imported by the API function.
"""

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import ValidationError

from pulse.recommend.ranker import RankerSpec

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
POINTER_KEY = "models/current.json"
ARRAY_FILES = ("neighbors.npz", "transitions.npz", "popularity.npz")
JSON_FILES = ("catalog.json", "ranker.json")
ALLOWED_SUFFIXES = (".npz", ".npy", ".json")


class ArtifactError(Exception):
    """A model version that must not be served (missing, tampered, truncated or unsafe file)."""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def version_prefix(version: str) -> str:
    return f"models/{version}/"


def build_manifest(version: str, files: dict[str, bytes], **info: Any) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "version": version,
        "files": {name: {"sha256": digest(data), "size": len(data)} for name, data in sorted(files.items())},
        **info,
    }


def npz_bytes(**arrays: np.ndarray) -> bytes:
    """Uncompressed: neighbour weights barely compress, and inflating them dominated cold start (measured)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def read_npz(name: str, data: bytes) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` file; object (pickled) arrays are refused."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ArtifactError(f"{name}: not a safe .npz file ({exc})") from exc


def verify(manifest_bytes: bytes, files: dict[str, bytes]) -> dict[str, Any]:
    """Check the manifest against the files; returns the manifest."""
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError as exc:
        raise ArtifactError(f"manifest.json is not JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"unsupported manifest format {manifest.get('format_version') if isinstance(manifest, dict) else '?'}"
        )
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise ArtifactError("manifest lists no files")
    for name in (*ARRAY_FILES, *JSON_FILES):
        if name not in listed:
            raise ArtifactError(f"manifest does not list {name}")
    for name, meta in listed.items():
        if not name.endswith(ALLOWED_SUFFIXES) or "/" in name:
            raise ArtifactError(f"{name}: only .npz, .npy and JSON files are allowed")
        data = files.get(name)
        if data is None:
            raise ArtifactError(f"{name}: listed in the manifest but missing")
        if len(data) != meta.get("size") or digest(data) != meta.get("sha256"):
            raise ArtifactError(f"{name}: size or SHA-256 does not match the manifest")
    return manifest


@dataclass
class RecModel:
    """Everything the scorer needs, as arrays indexed by item position."""

    version: str
    item_ids: list[str]
    metadata: list[dict[str, Any]]
    categories: list[list[str]]
    available: np.ndarray  # bool per item
    nbr_idx: np.ndarray  # (n, N) int32, -1 padded
    nbr_w: np.ndarray  # (n, N) float32
    tr_idx: np.ndarray
    tr_w: np.ndarray
    pop: np.ndarray  # (n,) float32, normalised counts
    trending: np.ndarray  # (n,) float32
    segment_names: list[str]
    segment_pop: np.ndarray  # (s, n) float32
    ranker: RankerSpec
    manifest: dict[str, Any]
    index: dict[str, int] = field(default_factory=dict)
    category_index: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {item: i for i, item in enumerate(self.item_ids)}
        by_cat: dict[str, list[int]] = {}
        for i, cats in enumerate(self.categories):
            for cat in cats:
                by_cat.setdefault(cat, []).append(i)
        self.category_index = {c: np.asarray(v, dtype=np.int32) for c, v in by_cat.items()}

    @property
    def n_items(self) -> int:
        return len(self.item_ids)


def load_model(version: str, manifest_bytes: bytes, files: dict[str, bytes]) -> RecModel:
    """Verify and decode a model version; raises ``ArtifactError`` for anything unsafe or inconsistent."""
    manifest = verify(manifest_bytes, files)
    try:
        catalog = json.loads(files["catalog.json"])
        ranker = RankerSpec.model_validate_json(files["ranker.json"])
        nbrs = read_npz("neighbors.npz", files["neighbors.npz"])
        trans = read_npz("transitions.npz", files["transitions.npz"])
        pops = read_npz("popularity.npz", files["popularity.npz"])
        item_ids = [str(i) for i in catalog["item_ids"]]
        n = len(item_ids)
        model = RecModel(
            version=version,
            item_ids=item_ids,
            metadata=list(catalog["metadata"]),
            categories=[list(c) for c in catalog["categories"]],
            available=np.asarray(catalog.get("available", [True] * n), dtype=bool),
            nbr_idx=nbrs["idx"].astype(np.int32, copy=False),
            nbr_w=nbrs["w"].astype(np.float32, copy=False),
            tr_idx=trans["idx"].astype(np.int32, copy=False),
            tr_w=trans["w"].astype(np.float32, copy=False),
            pop=pops["global"].astype(np.float32, copy=False),
            trending=pops["trending"].astype(np.float32, copy=False),
            segment_names=list(catalog.get("segments", [])),
            segment_pop=pops["segments"].astype(np.float32, copy=False),
            ranker=ranker,
            manifest=manifest,
        )
    except ValidationError as exc:
        raise ArtifactError(f"ranker.json: {exc.errors()[0]['msg']}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"model files are inconsistent: {exc}") from exc
    shapes_ok = (
        len(model.metadata) == n == len(model.categories) == model.available.shape[0] == model.pop.shape[0]
        and model.nbr_idx.shape == model.nbr_w.shape
        and model.nbr_idx.shape[0] == n
        and model.tr_idx.shape == model.tr_w.shape
        and model.tr_idx.shape[0] == n
        and model.trending.shape == (n,)
        and model.segment_pop.shape == (len(model.segment_names), n)
        and (model.nbr_idx.size == 0 or int(model.nbr_idx.max()) < n)
        and (model.tr_idx.size == 0 or int(model.tr_idx.max()) < n)
    )
    if not shapes_ok:
        raise ArtifactError("model arrays have inconsistent shapes or out-of-range indexes")
    return model
