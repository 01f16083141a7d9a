"""Audience exports: requested through the API, written by the exporter function, fetched by URL.

``run_export`` streams the audience: one page of members (a Query of the segment's partition) at a
time, their profiles read in batches, each row encoded and gzip-compressed as it goes, and the file
uploaded in parts. Memory holds one page and one part, whatever the audience's size. A job that
fails for a transient reason is left ``running`` and raised (the queue delivers it again); any other
failure marks it ``failed`` with the reason.
"""

import csv
import io
import json
import zlib
from collections.abc import Callable
from typing import Any

from pulse.domain.exports import EXPORT_ID, ExportJob, ExportRequest, row
from pulse.domain.segments import catalog
from pulse.errors import UnknownExport, UnknownSegment
from pulse.ports import ExportFiles, ExportJobs, ExportQueue, ProfileStore, SegmentDirectory, TransientFailure

PAGE = 1000  # members per Query page
URL_SECONDS = 3600  # how long a download URL works
PREFIX = "exports/"


def request_export(jobs: ExportJobs, queue: ExportQueue, segment: str, request: ExportRequest, now: float) -> ExportJob:
    if not catalog().is_known(segment):
        raise UnknownSegment(f"no segment named {segment}")
    job = ExportJob.new(segment, request, now)
    jobs.put(job)
    queue.submit(job.export_id)
    return job


def export_status(jobs: ExportJobs, files: ExportFiles, export_id: str) -> dict[str, Any]:
    job = jobs.get(export_id) if EXPORT_ID.match(export_id) else None
    if job is None:
        raise UnknownExport(f"no export {export_id}")
    url = files.url(job.key, URL_SECONDS) if job.status == "done" and job.key else None
    return job.model_dump(exclude={"key"}) | {"url": url, "url_expires_in": URL_SECONDS if url else None}


def run_export(
    jobs: ExportJobs,
    directory: SegmentDirectory,
    store: ProfileStore,
    files: ExportFiles,
    export_id: str,
    clock: Callable[[], float],
) -> ExportJob | None:
    job = jobs.get(export_id)
    if job is None or job.status == "done":
        return job
    job.status, job.rows = "running", 0
    jobs.put(job)
    key = f"{PREFIX}{job.segment.replace(':', '_')}/{job.export_id}.{job.format}.gz"
    writer = files.open(key, "application/gzip")
    try:
        job.rows = _write(job, directory, store, writer.write)
        writer.close()
    except TransientFailure:
        writer.abort()
        raise
    except Exception as exc:  # noqa: BLE001  # recorded on the job for the person who asked
        writer.abort()
        job.status, job.error, job.finished_at = "failed", f"{type(exc).__name__}: {exc}", clock()
        jobs.put(job)
        return job
    job.status, job.key, job.finished_at = "done", key, clock()
    jobs.put(job)
    return job


def _write(job: ExportJob, directory: SegmentDirectory, store: ProfileStore, out: Callable[[bytes], None]) -> int:
    gzip = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip member
    columns = ["user_id", *job.fields]
    rows, start = 0, None
    if job.format == "csv":
        out(gzip.compress(_csv_line(columns)))
    while True:
        page = directory.members(job.segment, PAGE, start)
        ids = [m.user_id for m in page.members]
        profiles = store.load_many(ids)
        chunk = io.BytesIO()
        for user_id in ids:
            stored = profiles.get(user_id)
            profile = stored.state.profile if stored is not None and not stored.is_tombstone else None
            values = row(user_id, profile, job.fields)
            chunk.write(_csv_line([values[c] for c in columns]) if job.format == "csv" else _json_line(values))
            rows += 1
        out(gzip.compress(chunk.getvalue()))
        start = page.last_key
        if start is None:
            break
    out(gzip.flush())
    return rows


def _csv_line(values: list[Any]) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerow(["" if v is None else v for v in values])
    return text.getvalue().encode()


def _json_line(values: dict[str, Any]) -> bytes:
    return (json.dumps(values, separators=(",", ":")) + "\n").encode()
