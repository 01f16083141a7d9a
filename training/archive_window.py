"""Which archived event files a retraining run reads: the window of the last days, newest first.

The Firehose archive writes ``events/yyyy/MM/dd/HH/<stream>-<time>-<id>.gz`` by arrival time (the
template's prefix). A window of N days is every file delivered from the start of the hour N days ago
until now; the run reads them newest first and stops at its ceiling, so what it trains on is always
the most recent part of the window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

ARCHIVE_PREFIX = "events/"
_HOUR = re.compile(r"^events/(\d{4})/(\d{2})/(\d{2})/(\d{2})/")


@dataclass(frozen=True)
class ArchivedFile:
    key: str
    size: int
    delivered_hour: float  # epoch seconds of the hour folder it was delivered into


def _hour_of(key: str) -> float | None:
    found = _HOUR.match(key)
    if not found:
        return None
    year, month, day, hour = (int(x) for x in found.groups())
    return datetime(year, month, day, hour, tzinfo=UTC).timestamp()


def archive_window(s3: Any, bucket: str, now: float, days: float) -> list[ArchivedFile]:
    """Every non-empty archived file delivered in the last ``days`` days, newest first."""
    if days <= 0:
        raise ValueError("the training window is a number of days > 0")
    start = datetime.fromtimestamp(now - days * 86400.0, UTC).replace(minute=0, second=0, microsecond=0)
    day = start.replace(hour=0)
    last_day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    found: list[ArchivedFile] = []
    paginator = s3.get_paginator("list_objects_v2")
    while day <= last_day:  # one listing per day folder: cheap whatever the archive's age
        prefix = f"{ARCHIVE_PREFIX}{day:%Y/%m/%d}/"
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                hour = _hour_of(obj["Key"])
                if hour is not None and hour >= start.timestamp() and obj["Size"] > 0:
                    found.append(ArchivedFile(obj["Key"], int(obj["Size"]), hour))
        day += timedelta(days=1)
    found.sort(key=lambda f: (f.delivered_hour, f.key), reverse=True)
    return found
