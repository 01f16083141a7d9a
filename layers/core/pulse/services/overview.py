"""The console's overview: what the updater did minute by minute, users, dead letters waiting, the
model serving, experiments running, alarms firing. Every figure is read, none is estimated here."""

from __future__ import annotations

from typing import Any, Protocol

from pulse.domain.activity import MINUTE, THROUGHPUT, THROUGHPUT_ROW, minute_buckets
from pulse.ports import ActivityStore, ExperimentStore, TransientFailure

MINUTES = 30  # the series the overview charts
RECENT = 15  # the totals it shows


class StackHealth(Protocol):
    def users(self) -> int | None: ...
    def dead_letters_waiting(self) -> int | None: ...
    def alarms_firing(self) -> list[dict[str, Any]] | None: ...


def overview(
    activity: ActivityStore,
    health: StackHealth,
    experiments: ExperimentStore,
    model_version: str | None,
    now: float,
) -> dict[str, Any]:
    buckets = minute_buckets(now, MINUTES)
    try:
        counts: dict[str, dict[str, int]] | None = activity.counts(buckets, THROUGHPUT_ROW)
    except TransientFailure:
        counts = None
    minutes = [
        {"at": int(bucket[1:]) * MINUTE} | {name: (counts or {}).get(bucket, {}).get(name, 0) for name in THROUGHPUT}
        for bucket in buckets
    ]
    recent = {name: sum(m[name] for m in minutes[-RECENT:]) for name in THROUGHPUT}
    try:
        running: list[str] | None = [e.experiment_id for e in experiments.definitions() if e.status == "running"]
    except TransientFailure:
        running = None
    return {
        "at": now,
        "model_version": model_version,
        "users": health.users(),
        "recent_minutes": RECENT,
        "recent": recent if counts is not None else None,
        "minutes": minutes if counts is not None else [],
        "dead_letters_waiting": health.dead_letters_waiting(),
        "alarms": health.alarms_firing(),
        "experiments_running": running,
    }
