"""MovieLens-100K: fetch once, verify, cache, and convert to the contract's event format.

Source: the copy inside the ``recbole==1.2.1`` wheel on PyPI (``pip download --no-deps``), verified by
pinned SHA-256 digests of the wheel and of the three files used. The official GroupLens archive is not
used: this machine cannot reach it, and a download we cannot pin to a digest is not reproducible. Both
hold the same 100,000 ratings, 943 users and 1,682 movies.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infrastructure.template import ROOT

CACHE = ROOT / ".cache" / "datasets" / "ml-100k"
WHEEL = "recbole==1.2.1"
WHEEL_SHA256 = "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"
FILES = {
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
    "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _cached_ok(cache: Path) -> bool:
    return all((cache / name).exists() and sha256(cache / name) == digest for name, digest in FILES.items())


def fetch(cache: Path = CACHE) -> Path:
    """The folder holding the verified raw files (downloads the wheel only when the cache is missing)."""
    if _cached_ok(cache):
        return cache
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", tmp, WHEEL],
            check=True,
            stdout=sys.stderr,  # stdout carries only the path (make -s movielens)
        )
        wheel = next(Path(tmp).glob("recbole-*.whl"))
        if sha256(wheel) != WHEEL_SHA256:
            raise RuntimeError(f"{wheel.name}: SHA-256 mismatch; refusing to use it")
        with zipfile.ZipFile(wheel) as zf:
            for name in FILES:
                target = cache / name
                target.write_bytes(zf.read(f"recbole/dataset_example/ml-100k/{name}"))
    for name, digest in FILES.items():
        if sha256(cache / name) != digest:
            raise RuntimeError(f"{name}: SHA-256 mismatch after extraction")
    return cache


@dataclass(frozen=True)
class MovieLens:
    users: dict[str, dict[str, Any]]  # user id -> traits
    items: dict[str, dict[str, Any]]  # item id -> {"category": [...], "title": ..., "year": ...}
    ratings: list[tuple[str, str, float, int]]  # user, item, rating, timestamp


def _rows(path: Path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.split("\t") for line in lines[1:] if line.strip()]


def load(cache: Path | None = None) -> MovieLens:
    folder = fetch() if cache is None else fetch(cache)
    users = {
        row[0]: {"age": int(row[1]), "gender": row[2], "occupation": row[3], "zip": row[4]}
        for row in _rows(folder / "ml-100k.user")
    }
    items: dict[str, dict[str, Any]] = {}
    for fields in _rows(folder / "ml-100k.item"):
        row = fields + [""] * (4 - len(fields))
        genres = [g for g in row[3].split() if g] or ["unknown"]
        items[row[0]] = {"category": genres, "title": row[1], "year": row[2]}
    ratings = [(r[0], r[1], float(r[2]), int(float(r[3]))) for r in _rows(folder / "ml-100k.inter")]
    # time order; ratings given in the same second keep the dataset's own order, which GroupLens ships
    # randomised (RecBole's protocol does the same). Breaking ties by item id instead would plant a fake
    # sequence (1 -> 10 -> 100 ...) for the models to learn and the evaluation to reward.
    ratings.sort(key=lambda r: r[3])
    return MovieLens(users, items, ratings)


def to_events(data: MovieLens) -> list[dict[str, Any]]:
    """Users' demographics as ``identify`` events (just before their first rating), ratings as ``rate``."""
    first: dict[str, int] = {}
    for user, _, _, ts in data.ratings:
        first.setdefault(user, ts)
    events: list[dict[str, Any]] = []
    for user, traits in data.users.items():
        if user in first:
            events.append(
                {
                    "event_id": f"ml-id-{user}",
                    "event_type": "identify",
                    "user_id": user,
                    "timestamp": first[user] - 1,
                    "traits": traits,
                }
            )
    for user, item, rating, ts in data.ratings:
        events.append(
            {
                "event_id": f"ml-{user}-{item}",
                "event_type": "rate",
                "user_id": user,
                "timestamp": ts,
                "item_id": item,
                "value": rating,
                "item": data.items.get(item, {"category": ["unknown"]}),
            }
        )
    events.sort(key=lambda e: (e["timestamp"], e["event_type"] != "identify"))  # stable: ties as above
    return events


def write_jsonl(events: list[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as fh:
        for event in events:
            fh.write(json.dumps(event, separators=(",", ":")) + "\n")
    return path


def event_log(path: Path = CACHE / "events-v2.jsonl.gz") -> Path:
    """The MovieLens event log in the contract's format (built once, then cached)."""
    if not path.exists():
        write_jsonl(to_events(load()), path)
    return path


if __name__ == "__main__":
    print(event_log())
