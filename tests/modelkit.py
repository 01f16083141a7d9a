"""Small, real model versions built in the tests themselves (by the training code, on a synthetic log)."""

from __future__ import annotations

import json
import random
from typing import Any

from pulse.domain.events import BehaviorEvent, parse_event
from training.dataset import Params
from training.train import TrainResult, manifest_for, train

__all__ = ["Params", "TrainResult", "publish_and_promote", "shop_log", "synthetic_events", "tiny_model", "train"]

GENRES = ["Action", "Comedy", "Drama", "Horror"]
T0 = 1_700_000_000.0


def synthetic_events(users: int = 40, items: int = 48, per_user: int = 12, seed: int = 1) -> list[BehaviorEvent]:
    """Users who each like one genre and mostly watch it, in a loose order (so transitions exist)."""
    rng = random.Random(seed)
    out: list[BehaviorEvent] = []
    for u in range(users):
        fav = GENRES[u % len(GENRES)]
        t = T0 + u * 10
        out.append(
            parse_event(
                {
                    "event_id": f"id-{u}",
                    "event_type": "identify",
                    "user_id": f"u{u}",
                    "timestamp": t,
                    "traits": {"age": 18 + (u * 7) % 50, "gender": "F" if u % 2 else "M"},
                },
                now=4e9,
            )
        )
        pool = [i for i in range(items) if GENRES[i % len(GENRES)] == fav or rng.random() < 0.15]
        start = rng.randrange(len(pool))
        for step in range(per_user):
            item = pool[(start + step) % len(pool)]
            t += 60 + rng.random()
            out.append(
                parse_event(
                    {
                        "event_id": f"e-{u}-{step}",
                        "event_type": "rate",
                        "user_id": f"u{u}",
                        "timestamp": t,
                        "item_id": f"m{item}",
                        "value": rng.choice([3, 4, 5]),
                        "item": {"category": [GENRES[item % len(GENRES)]], "title": f"Movie {item}"},
                    },
                    now=4e9,
                )
            )
    return sorted(out, key=lambda e: e.timestamp)


def tiny_model(seed: int = 1) -> TrainResult:
    return train(
        synthetic_events(seed=seed), grid=[Params(method="ease", ease_lambda=50.0, neighbors=20)], say=lambda _: None
    )


def version_files(result: TrainResult, version: str) -> tuple[bytes, dict[str, bytes]]:
    manifest: dict[str, Any] = manifest_for(version, result)
    return json.dumps(manifest).encode(), dict(result.files)


def publish_and_promote(s3: Any, bucket: str, result: TrainResult, version: str, force: bool = False) -> str:
    from training.publish import promote, publish

    manifest = manifest_for(version, result)
    publish(s3, bucket, version, result.files, manifest)
    promote(s3, bucket, version, force=force)
    return version


def shop_log(users: int = 60, seed: int = 1, shuffled: bool = False, days_later: float = 0.0) -> list[dict[str, Any]]:
    """The synthetic shop's events as JSON objects. ``shuffled``: every interaction's item drawn from
    another interaction (noise a model must not be promoted on); ``days_later``: the same behaviour
    that many days later (held-out interactions newer than a model trained on the original)."""
    events = [e.model_dump(exclude_none=True, mode="json") for e in synthetic_events(users=users, seed=seed)]
    for event in events:
        event["timestamp"] += days_later * 86400
        event["event_id"] += f"-{days_later:g}" if days_later else ""
    if shuffled:
        rows = [e for e in events if "item_id" in e]
        items = [e["item_id"] for e in rows]
        random.Random(7).shuffle(items)
        for row, item in zip(rows, items, strict=True):
            row["item_id"] = item
    return events
