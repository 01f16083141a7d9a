"""Model artefacts (contract section 4): a version is a folder of ``.npz`` / JSON files plus a manifest.

``models/<version>/manifest.json`` lists every file with its SHA-256 and size, the format version, what
the model was trained on and its offline metrics. Loading verifies every checksum and size and reads
arrays with ``allow_pickle=False``; anything else is refused with ``ArtifactError``. numpy only: this
module is imported by the API function.

Format 2 (written since issue 23) keeps per-item data in flat arrays (``pulse.recommend.compact``):
``items.npz`` holds the ids, availability, category codes and metadata lines; neighbour and transition
lists are CSR rows without padding, weights float16 where that keeps every list's order. Format 1
(padded lists, the catalogue as JSON lists) is still read, so a version published before keeps serving.
"""

import hashlib
import io
import json
import struct
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from pydantic import ValidationError

from pulse.recommend.compact import Categories, ItemLists, Metadata, ids_blob, ids_from_blob
from pulse.recommend.ranker import RankerSpec

FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
MANIFEST = "manifest.json"
POINTER_KEY = "models/current.json"
ARRAY_FILES = ("neighbors.npz", "transitions.npz", "popularity.npz")
JSON_FILES = ("catalog.json", "ranker.json")
REQUIRED = {1: (*ARRAY_FILES, *JSON_FILES), 2: (*ARRAY_FILES, *JSON_FILES, "items.npz")}
ALLOWED_SUFFIXES = (".npz", ".npy", ".json")


class ArtifactError(Exception):
    """A model version that must not be served (missing, tampered, truncated or unsafe file)."""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Fetched(NamedTuple):
    """A version as read from where it is kept: the manifest's bytes, the files, and each file's
    SHA-256 when the reader computed it from those bytes as it went (``verify`` then compares it
    instead of hashing the files again)."""

    manifest: bytes
    files: dict[str, bytes]
    digests: Mapping[str, str] | None = None


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
    """Arrays of an ``.npz`` file; object (pickled) arrays are refused. Stored (uncompressed) members
    are read in place: read-only views of ``data``, no copy (a copy of a 1M-item model's lists through
    ``np.load`` took seconds); compressed ones through ``np.load``."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
        if any(info.compress_type != zipfile.ZIP_STORED for info in infos):
            with np.load(io.BytesIO(data), allow_pickle=False) as loaded:
                return {key: loaded[key] for key in loaded.files}
        return {info.filename.removesuffix(".npy"): _stored_array(data, info) for info in infos}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, struct.error) as exc:
        raise ArtifactError(f"{name}: not a safe .npz file ({exc})") from exc


def _stored_array(data: bytes, info: zipfile.ZipInfo) -> np.ndarray:
    """One uncompressed ``.npy`` member of a zip, as a view of the zip's bytes."""
    header = info.header_offset
    if data[header : header + 4] != b"PK\x03\x04":
        raise ValueError(f"{info.filename}: bad local header")
    name_length, extra_length = struct.unpack("<HH", data[header + 26 : header + 30])
    start = header + 30 + name_length + extra_length
    if start + info.file_size > len(data):
        raise ValueError(f"{info.filename}: truncated")
    member = io.BytesIO(data[start : start + min(info.file_size, 65536)])
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise ValueError(f"{info.filename}: .npy format {version} is not supported")
    if dtype.hasobject:
        raise ValueError(f"{info.filename}: object arrays are not allowed")
    count = int(np.prod(shape, dtype=np.int64))
    if member.tell() + count * dtype.itemsize > info.file_size:
        raise ValueError(f"{info.filename}: truncated")
    array = np.frombuffer(data, dtype=dtype, count=count, offset=start + member.tell())
    return array.reshape(shape, order="F" if fortran else "C")


def verify(manifest_bytes: bytes, files: dict[str, bytes], digests: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Check the manifest against the files (``digests``: their SHA-256 computed by the reader from
    these bytes, see ``Fetched``); returns the manifest."""
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError as exc:
        raise ArtifactError(f"manifest.json is not JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format_version") not in READABLE_FORMATS:
        raise ArtifactError(
            f"unsupported manifest format {manifest.get('format_version') if isinstance(manifest, dict) else '?'}"
        )
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise ArtifactError("manifest lists no files")
    for name in REQUIRED[manifest["format_version"]]:
        if name not in listed:
            raise ArtifactError(f"manifest does not list {name}")
    for name, meta in listed.items():
        if not name.endswith(ALLOWED_SUFFIXES) or "/" in name:
            raise ArtifactError(f"{name}: only .npz, .npy and JSON files are allowed")
        data = files.get(name)
        if data is None:
            raise ArtifactError(f"{name}: listed in the manifest but missing")
        known = digests.get(name) if digests else None
        if len(data) != meta.get("size") or (known or digest(data)) != meta.get("sha256"):
            raise ArtifactError(f"{name}: size or SHA-256 does not match the manifest")
    return manifest


@dataclass
class RecModel:
    """Everything the scorer needs, as arrays indexed by item position."""

    version: str
    item_ids: Sequence[str]  # held as a tuple: of str only, the cyclic collector stops walking it
    metadata: Sequence[dict[str, Any]]
    categories: Categories
    available: np.ndarray  # bool per item
    neighbors: ItemLists
    transitions: ItemLists
    pop: np.ndarray  # (n,) float32, normalised counts
    trending: np.ndarray  # (n,) float32
    segment_names: list[str]
    segment_pop: np.ndarray  # (s, n) float32
    ranker: RankerSpec
    manifest: dict[str, Any]
    index: dict[str, int] = field(default_factory=dict)
    category_index: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # a list of a million ids made every full collection of the cyclic GC walk it (about 10 ms,
        # measured); a tuple of str only is untracked after the first collection
        self.item_ids = tuple(self.item_ids)
        self.index = dict(zip(self.item_ids, range(len(self.item_ids)), strict=True))
        self.category_index = self.categories.members()

    @property
    def n_items(self) -> int:
        return len(self.item_ids)


def model_files(model: RecModel, narrow: bool = True) -> dict[str, bytes]:
    """The data files of a model in the current format (the manifest is built from them)."""
    cats, meta = model.categories, model.metadata
    metadata = meta if isinstance(meta, Metadata) else Metadata.from_dicts(meta)
    lists = {"neighbors.npz": model.neighbors, "transitions.npz": model.transitions}
    return {
        "catalog.json": json.dumps({"categories": cats.names, "segments": model.segment_names}).encode(),
        "items.npz": npz_bytes(
            ids=ids_blob(model.item_ids),
            available=model.available.astype(bool),
            cat_ptr=cats.ptr,
            cat_codes=cats.codes,
            meta=metadata.blob,
            meta_ptr=metadata.ptr,
        ),
        "ranker.json": model.ranker.model_dump_json(indent=1).encode(),
        **{name: npz_bytes(**(lst.narrowed() if narrow else lst).arrays()) for name, lst in lists.items()},
        "popularity.npz": npz_bytes(**{"global": model.pop, "trending": model.trending, "segments": model.segment_pop}),
    }


def load_model(
    version: str, manifest_bytes: bytes, files: dict[str, bytes], digests: Mapping[str, str] | None = None
) -> RecModel:
    """Verify and decode a model version; raises ``ArtifactError`` for anything unsafe or inconsistent."""
    manifest = verify(manifest_bytes, files, digests)
    try:
        catalog = json.loads(files["catalog.json"])
        ranker = RankerSpec.model_validate_json(files["ranker.json"])
        pops = read_npz("popularity.npz", files["popularity.npz"])
        parts = _format_1(files, catalog) if manifest["format_version"] == 1 else _format_2(files, catalog)
        model = RecModel(
            version=version,
            **parts,
            pop=pops["global"].astype(np.float32, copy=False),
            trending=pops["trending"].astype(np.float32, copy=False),
            segment_names=[str(s) for s in catalog.get("segments", [])],
            segment_pop=pops["segments"].astype(np.float32, copy=False),
            ranker=ranker,
            manifest=manifest,
        )
    except ValidationError as exc:
        raise ArtifactError(f"ranker.json: {exc.errors()[0]['msg']}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ArtifactError(f"model files are inconsistent: {exc}") from exc
    n = model.n_items
    shapes_ok = (
        len(model.metadata) == n == model.available.shape[0] == model.pop.shape[0]
        and model.categories.valid(n)
        and (not isinstance(model.metadata, Metadata) or model.metadata.valid(n))
        and model.neighbors.valid(n)
        and model.transitions.valid(n)
        and model.trending.shape == (n,)
        and model.segment_pop.shape == (len(model.segment_names), n)
    )
    if not shapes_ok:
        raise ArtifactError("model arrays have inconsistent shapes or out-of-range indexes")
    model.neighbors, model.transitions = model.neighbors.widened(), model.transitions.widened()  # once valid
    return model


def _lists(name: str, files: dict[str, bytes]) -> ItemLists:
    arrays = read_npz(name, files[name])
    if "ptr" not in arrays:  # format 1: (n, N) padded with -1
        return ItemLists.from_padded(arrays["idx"].astype(np.int32, copy=False), arrays["w"])
    w = arrays["w"] if arrays["w"].dtype in (np.float16, np.float32) else arrays["w"].astype(np.float32)
    shift = int(arrays["shift"]) if "shift" in arrays and w.dtype == np.float16 else 0
    if abs(shift) > 64:
        raise ValueError(f"{name}: weight scale 2**{shift} is out of range")
    ptr, idx = arrays["ptr"].astype(np.int64, copy=False), arrays["idx"].astype(np.int32, copy=False)
    return ItemLists(ptr, idx, w, shift)


def _format_1(files: dict[str, bytes], catalog: dict[str, Any]) -> dict[str, Any]:
    item_ids = [str(i) for i in catalog["item_ids"]]
    return {
        "item_ids": item_ids,
        "metadata": list(catalog["metadata"]),
        "categories": Categories.from_lists([[str(c) for c in cats] for cats in catalog["categories"]]),
        "available": np.asarray(catalog.get("available", [True] * len(item_ids)), dtype=bool),
        "neighbors": _lists("neighbors.npz", files),
        "transitions": _lists("transitions.npz", files),
    }


def _format_2(files: dict[str, bytes], catalog: dict[str, Any]) -> dict[str, Any]:
    items = read_npz("items.npz", files["items.npz"])
    n = int(items["available"].size)
    names = [str(c) for c in catalog["categories"]]
    if items["ids"].dtype != np.uint8 or items["meta"].dtype != np.uint8:
        raise ValueError("items.npz: ids and metadata must be bytes")
    return {
        "item_ids": ids_from_blob(items["ids"], n),
        "metadata": Metadata(items["meta"], items["meta_ptr"]),
        "categories": Categories(names, items["cat_ptr"], items["cat_codes"]),
        "available": items["available"].astype(bool),  # a copy: the live catalogue changes it in place
        "neighbors": _lists("neighbors.npz", files),
        "transitions": _lists("transitions.npz", files),
    }
