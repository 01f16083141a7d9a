"""Erasure of a user's raw data: which archive lines and dead letters are theirs, and the job's record.

``DELETE /users/{id}`` erases the profile at once and starts an erasure job; the eraser function runs
it after the archive's buffer has been written (``ErasureDelaySeconds``), so events that were in
flight are in the archive by then. The job's record never names the user (only a SHA-256 of the id):
the caller who asked knows whom it is about; anyone reading the bucket does not.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import uuid
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["pending", "running", "done", "failed"]
ERASURE_ID_LENGTH = 32


def user_digest(user_id: str) -> str:
    return hashlib.sha256(user_id.encode()).hexdigest()


def new_erasure_id() -> str:
    return uuid.uuid4().hex


def valid_erasure_id(value: str) -> bool:
    return len(value) == ERASURE_ID_LENGTH and all(c in "0123456789abcdef" for c in value)


@dataclass
class ErasureCounts:
    objects_scanned: int = 0  # archive object versions read
    objects_rewritten: int = 0  # current versions written again without the user's lines
    versions_deleted: int = 0  # versions that held the user's lines, removed
    lines_removed: int = 0
    dead_letters_removed: int = 0  # queue messages and payloads kept in the bucket

    def add(self, other: ErasureCounts) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


@dataclass
class ErasureJob:
    erasure_id: str
    user_sha256: str
    requested_at: float
    not_before: float  # the archive's buffer is written by then
    status: Status = "pending"
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    counts: ErasureCounts = field(default_factory=ErasureCounts)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> ErasureJob:
        raw: dict[str, Any] = json.loads(text)
        counts = ErasureCounts(**raw.pop("counts", {}))
        return cls(**raw, counts=counts)


def _owner(line: bytes, user_ids: frozenset[str]) -> str | None:
    """Which of the users an archive line belongs to. A line that is not an event object with a string
    ``user_id`` (the archive keeps every record, valid or not) is theirs when it contains their id."""
    present = [u for u in user_ids if u.encode() in line]
    if not present:
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return present[0]
    owner = event.get("user_id") if isinstance(event, dict) else None
    if isinstance(owner, str):
        return owner if owner in user_ids else None
    return present[0]


@dataclass(frozen=True)
class Stripped:
    body: bytes  # the object without the users' lines (gzipped again if it was)
    removed: dict[str, int]  # lines removed per user
    empty: bool  # nothing is left: delete the object rather than write it again


def strip_lines(data: bytes, user_ids: frozenset[str], gzipped: bool) -> Stripped | None:
    """The object without the users' lines and how many went per user; None when it holds none."""
    if gzipped:
        try:
            text = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):  # damaged: searched as it is, written back uncompressed
            text, gzipped = data, False
    else:
        text = data
    if not any(u.encode() in text for u in user_ids):
        return None
    kept, removed = [], dict[str, int]()
    for line in text.splitlines(keepends=True):
        owner = _owner(line.strip(), user_ids) if line.strip() else None
        if owner is None:
            kept.append(line)
        else:
            removed[owner] = removed.get(owner, 0) + 1
    if not removed:
        return None
    body = b"".join(kept)
    return Stripped(gzip.compress(body, mtime=0) if gzipped else body, removed, not body.strip())


def letter_of(body: str, user_ids: frozenset[str]) -> tuple[str | None, str | None]:
    """Which of the users a dead letter belongs to, and where its payload is kept (``s3://...``) when
    it did not fit the message. A letter for a whole failed batch names no user: it is kept."""
    try:
        letter = json.loads(body)
    except ValueError:
        return next((u for u in user_ids if u in body), None), None
    if not isinstance(letter, dict):
        return None, None
    location = letter.get("payload_s3")
    key = letter.get("partition_key")
    if isinstance(key, str) and key in user_ids:
        return key, location
    try:
        payload = base64.b64decode(letter.get("payload_base64") or "", validate=True)
    except (binascii.Error, ValueError):
        payload = b""
    return (_owner(payload, user_ids) if payload else None), location
