"""Step 7: the rest of the future onto the stream, then the trainer function on the archive, through the gate."""

from __future__ import annotations

import gzip
import time
from typing import Any

from pulse.domain.events import BehaviorEvent
from scripts.demo.session import Session, say


def archived_lines(s3: Any, bucket: str) -> int:
    """Events the local archive (Firehose's emulation) has written to events/ so far."""
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="events/"):
        for obj in page.get("Contents", []):
            count += gzip.decompress(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()).count(b"\n")
    return count


def retrain(d: Session, future: list[BehaviorEvent], replayed: int) -> dict[str, Any]:
    say("7. retraining on the archive (the trainer function, as its daily schedule or `pulse retrain` runs it)")
    rest = future[replayed:]
    for start in range(0, len(rest), 500):
        d.put(rest[start : start + 500])
    s3, bucket = d.stack.client("s3"), d.stack.outputs()["ModelBucketName"]
    sent = sum(d.sent.values())
    deadline = time.monotonic() + 120
    while (archived := archived_lines(s3, bucket)) < sent and time.monotonic() < deadline:
        time.sleep(1.0)
    say(f"   the archive holds {archived:,} events: the history and the whole replayed 20 %")
    started = time.perf_counter()
    record: dict[str, Any] = d.stack.workers["TrainerFunction"].invoke({"window_days": 1})
    gate = record.get("gate") or {}
    figures = gate.get("figures") or {}
    d.figures["retraining"] = {
        "status": record["status"],
        "reason": record["reason"],
        "version": record.get("version"),
        "served_before": record.get("served_before"),
        "served_after": record.get("served_after"),
        "events": (record.get("window") or {}).get("events"),
        "sent": sent,
        "figures": figures,
        "seconds": round(time.perf_counter() - started, 1),
    }
    say(f"   {record['status']} in {d.figures['retraining']['seconds']} s: {record['reason']}")
    if figures:
        say("   NDCG@10 on the same held-out items: " + ", ".join(f"{k} {v:.4f}" for k, v in figures.items()))
    say(f"   serving: {record.get('served_after')}")
    return record
