"""Exporter function: audience exports from the queue, each streamed to the bucket (wiring only;
see pulse.services.exports). A message that is not a job is reported failed (after the queue's
retries it lands in the export dead-letter queue); a transient failure is retried by the queue."""

import json
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SQSEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from pulse.domain.exports import EXPORT_ID, ExportRequest
from pulse.errors import UnknownSegment
from pulse.ports import TransientFailure
from pulse.services.exports import request_export, run_export
from pulse.wiring import Provider, build_exporter

logger = Logger()
metrics = Metrics()
dependencies = Provider(build_exporter)


def _export_id(body: str) -> str | None:
    try:
        raw = json.loads(body)
    except ValueError:
        return None
    found = raw.get("export_id") if isinstance(raw, dict) else None
    return found if isinstance(found, str) and EXPORT_ID.match(found) else None


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" not in event:  # the daily schedule: queue one export per configured segment
        return {"queued": _daily()}
    return _jobs(SQSEvent(event))


def _daily() -> list[str]:
    deps, queued = dependencies(), []
    for segment in deps.daily_segments:
        try:
            job = request_export(deps.jobs, deps.queue, segment, ExportRequest(), time.time())
        except UnknownSegment:
            logger.error("daily export of an unknown segment", extra={"segment": segment})
            continue
        queued.append(job.export_id)
    logger.info("daily exports queued", extra={"export_ids": queued})
    return queued


def _jobs(event: SQSEvent) -> dict[str, Any]:
    failures: list[str] = []
    for record in event.records:
        export_id = _export_id(record.body)
        if export_id is None:
            logger.error("not an export job", extra={"message_id": record.message_id})
            failures.append(record.message_id)
            continue
        deps = dependencies()
        try:
            job = run_export(deps.jobs, deps.directory, deps.store, deps.files, export_id, time.time)
        except TransientFailure as exc:
            logger.warning("export failed for now; the queue delivers it again", extra={"reason": str(exc)})
            failures.append(record.message_id)
            continue
        if job is not None:
            metrics.add_metric(name="ExportRows", unit=MetricUnit.Count, value=job.rows)
            logger.info("export finished", extra={"export_id": export_id, "status": job.status, "rows": job.rows})
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}
