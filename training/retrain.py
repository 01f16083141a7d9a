"""A retraining run: the archive's recent window, the live catalogue, the same training as ``pulse train``,
a version published with its manifest, and promotion only through the gate (``training.gate``).

Whatever happens, the run leaves a record (``training.runs``): promoted, refused (published, not
served, with the gate's figures and reason), skipped (nothing new, or too little to train on) or
failed (the error; nothing served changes, since promotion is the run's last step). Above its
ceiling (``max_events``) a run reads the newest archived files first and stops there, so it trains
on the most recent events that fit and says so in its record and the version's manifest. A run that
is about to reach its deadline writes its record and stops (``training.deadline``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pulse.ports import CatalogChange
from training.archive_window import archive_window
from training.deadline import Deadline, RunOutOfTime
from training.eventlog import read_table
from training.gate import Gate
from training.publish import new_version, promote, publish, read_pointer, served_model_or_none
from training.runs import RunRecord, last_run, write_run
from training.train import TrainingInputError, manifest_for, train

LOG_LINES = 60  # the last lines of a run's log kept in its record


class RunFailed(Exception):
    """The run failed; its record (status "failed", the error as reason) is written and attached."""

    def __init__(self, record: RunRecord) -> None:
        super().__init__(record.reason)
        self.record = record


class RetrainRequest(BaseModel):
    """An on-demand run (``pulse retrain``, or ``aws lambda invoke`` with this JSON): all optional."""

    model_config = ConfigDict(extra="forbid")
    window_days: float | None = Field(None, gt=0, le=3650)
    max_events: int | None = Field(None, ge=1000)
    margin: float | None = Field(None, ge=0, le=1)


@dataclass(frozen=True)
class RetrainSettings:
    bucket: str
    window_days: float = 30.0
    max_events: int = 5_000_000  # the measured ceiling of one run (docs/benchmarks.md)
    margin: float = 0.0
    eval_users: int | None = 5000  # users whose profiles the evaluation replays (bounds its time)
    dense_max_items: int = 5000  # dense item models up to this many items (O(items^3) each), sparse above
    seed: int = 0
    reserve_seconds: float = 30.0  # kept before the deadline to write the record


def catalogue_of(changes: list[CatalogChange]) -> dict[str, dict[str, Any]]:
    """The live catalogue as training reads it: each item's metadata and availability (deleted: unavailable)."""
    return {
        c.item_id: (c.item.metadata() | {"available": c.item.available}) if c.item else {"available": False}
        for c in changes
    }


def run_id(now: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + f"-{int(now * 1000) % 1000:03d}"


def retrain(
    s3: Any,
    settings: RetrainSettings,
    catalogue: Callable[[], dict[str, dict[str, Any]] | None],
    now: float,
    trigger: str = "schedule",
    seconds_left: Callable[[], float] | None = None,
    say: Callable[[str], None] = print,
) -> RunRecord:
    """One run, recorded in the bucket; raises ``RunFailed`` (after recording it) when the run failed."""
    previous = last_run(s3, settings.bucket) or {}
    record = RunRecord(run_id(now), trigger, now, refusals_in_a_row=int(previous.get("refusals_in_a_row", 0)))
    record.served_before = record.served_after = (read_pointer(s3, settings.bucket) or {}).get("version")

    latest = record.as_dict()  # as of the last line logged: what the watchdog writes if time runs out

    def note(text: str) -> None:
        nonlocal latest
        record.log = [*record.log, text][-LOG_LINES:]
        latest = record.as_dict()
        say(text)

    def step(text: str) -> None:  # a line of the run's log, then a checkpoint
        note(text)
        deadline.check()

    def out_of_time() -> None:  # the watchdog's thread, while the run's thread is still busy
        reason = f"{RunOutOfTime.__name__}: stopped before the function's timeout (the run's thread went on)"
        line = f"failed: {reason}"
        late = latest | {"status": "failed", "reason": reason, "log": [*latest["log"], line][-LOG_LINES:]}
        try:
            write_run(s3, settings.bucket, RunRecord(**late | {"finished_at": time.time()}))
            say(line)
        except Exception as exc:  # noqa: BLE001 - the run's own end still writes its record
            say(f"the out-of-time record could not be written: {exc}")

    budget = None if seconds_left is None else seconds_left() - settings.reserve_seconds
    deadline = Deadline(budget, out_of_time)
    try:
        with deadline:
            _run(s3, settings, catalogue, previous, record, step, deadline.commit)
    except (Exception, RunOutOfTime) as exc:
        record.status, record.reason = "failed", f"{type(exc).__name__}: {exc}"
        note(f"failed: {record.reason}")
        raise RunFailed(record) from exc
    finally:
        record.finished_at = time.time()
        write_run(s3, settings.bucket, record)
    return record


def _run(
    s3: Any,
    settings: RetrainSettings,
    catalogue: Callable[[], dict[str, dict[str, Any]] | None],
    previous: dict[str, Any],
    record: RunRecord,
    note: Callable[[str], None],
    commit: Callable[[], None],
) -> None:
    files = archive_window(s3, settings.bucket, record.started_at, settings.window_days)
    record.window = {"days": settings.window_days, "files": len(files), "bytes": sum(f.size for f in files)}
    if not files:
        record.status = "skipped"
        record.reason = f"the archive holds no event from the last {settings.window_days:g} days"
        note(record.reason)
        return
    record.newest_file = files[0].key
    unchanged = previous.get("newest_file") == files[0].key and previous.get("status") != "failed"
    if record.trigger == "schedule" and unchanged:
        record.status = "skipped"  # the same window gives the same model: only new data or a failure retries
        record.reason = f"nothing archived since the run {previous.get('run_id')} ({previous.get('status')})"
        note(record.reason)
        return
    opened: list[str] = []
    sources = tuple(f"s3://{settings.bucket}/{f.key}" for f in files)
    table, errors = read_table(sources, s3=s3, limit=settings.max_events, opened=opened)
    truncated = table.n_events >= settings.max_events  # reading stopped there
    record.window |= {
        "files_read": len(opened),
        "files_left_out": len(files) - len(opened),
        "events": table.n_events,
        "invalid_lines": len(errors),
        "ceiling": settings.max_events,
        "truncated": truncated,
        "newest_file": files[0].key,
        "oldest_file_read": opened[-1].split("/", 3)[-1] if opened else None,
    }
    note(f"window: {len(files)} archived files from the last {settings.window_days:g} days; read {len(opened)}")
    if truncated:
        note(
            f"the window holds more than the ceiling of {settings.max_events:,} events: trained on the newest "
            f"{table.n_events:,} (files read newest first; {len(files) - len(opened)} older files left out)"
        )
    catalog = catalogue()
    if catalog:
        note(f"live catalogue: {len(catalog)} items")
    served = served_model_or_none(s3, settings.bucket, note)
    started = time.perf_counter()
    try:
        gate = Gate(served, settings.margin)
        result = train(
            table,
            catalog,
            eval_users=settings.eval_users,
            seed=settings.seed,
            say=note,
            gate=gate,
            dense_max_items=settings.dense_max_items,
        )
    except TrainingInputError as exc:
        record.status, record.reason = "skipped", str(exc)
        note(f"skipped: {exc}")
        return
    record.training_seconds = round(time.perf_counter() - started, 2)
    result.manifest_info["window"] = dict(record.window)
    result.manifest_info["trigger"] = record.trigger
    version = new_version(result.files)
    commit()  # out of time now: stop before publishing; from here: publish and promote whatever the time
    publish(s3, settings.bucket, version, result.files, manifest_for(version, result))
    record.version, record.gate = version, result.manifest_info.get("gate")
    note(f"published {version}")
    if record.gate and record.gate.get("promote"):
        record.served_after = promote(s3, settings.bucket, version)["version"]
        record.status, record.reason, record.refusals_in_a_row = "promoted", str(record.gate["reason"]), 0
        note(f"promoted {version}")
    else:
        record.status, record.reason = "refused", str((record.gate or {}).get("reason"))
        record.refusals_in_a_row += 1
        note(f"refused: {record.reason}; {record.served_before or 'no model'} keeps serving")
