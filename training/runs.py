"""The record of each retraining run, kept in the model bucket next to the versions it published.

``training-runs/<run id>.json`` holds one run (status, reason, window, gate figures, the last lines
of its log); ``training-runs/latest.json`` is a copy of the newest, which the next run reads to know
what it already trained on and how many refusals came in a row (the alarm's figure).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from botocore.exceptions import ClientError

RUNS_PREFIX = "training-runs/"
LATEST_KEY = RUNS_PREFIX + "latest.json"
Status = Literal["promoted", "refused", "skipped", "failed"]


@dataclass
class RunRecord:
    run_id: str
    trigger: str  # "schedule" or "on demand"
    started_at: float
    status: Status = "failed"
    reason: str = ""
    finished_at: float | None = None
    version: str | None = None  # the version it published (promoted or refused)
    served_before: str | None = None
    served_after: str | None = None
    gate: dict[str, Any] | None = None
    window: dict[str, Any] = field(default_factory=dict)
    newest_file: str | None = None  # the newest archived file it read (a scheduled run skips if unchanged)
    refusals_in_a_row: int = 0
    training_seconds: float | None = None
    log: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_run(s3: Any, bucket: str, record: RunRecord) -> None:
    body = json.dumps(record.as_dict(), indent=1, default=str).encode()
    for key in (f"{RUNS_PREFIX}{record.run_id}.json", LATEST_KEY):
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def last_run(s3: Any, bucket: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=LATEST_KEY)["Body"].read())
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    return found


def recent_runs(s3: Any, bucket: str, limit: int = 10) -> list[dict[str, Any]]:
    """The newest runs first (run ids begin with their UTC time, so names sort by time)."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=RUNS_PREFIX):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"] != LATEST_KEY]
    return [json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in sorted(keys)[::-1][:limit]]
