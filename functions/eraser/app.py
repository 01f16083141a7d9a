"""Eraser function: erasure jobs from the queue, one pass over the raw data per batch (wiring only).

A message that is not a job is reported as failed (after the queue's retries it lands in the
erasure dead-letter queue, which raises an alarm); when the pass fails, every job of the batch is
reported as failed and comes back (erasing twice is safe).
"""

import json
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SQSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from pulse.domain.erasure import valid_erasure_id
from pulse.ports import TransientFailure
from pulse.services.erasure import ErasureRequest, run_erasures
from pulse.wiring import Provider, build_eraser

logger = Logger()
metrics = Metrics()
dependencies = Provider(build_eraser)
MAX_RECEIVES = 5  # the erasure queue's maxReceiveCount in template.yaml


def _request(body: str, final: bool) -> ErasureRequest | None:
    try:
        raw = json.loads(body)
    except ValueError:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("user_id"), str) or not raw["user_id"]:
        return None
    erasure_id = raw.get("erasure_id")
    return (
        ErasureRequest(erasure_id, raw["user_id"], final)
        if isinstance(erasure_id, str) and valid_erasure_id(erasure_id)
        else None
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@event_source(data_class=SQSEvent)
def lambda_handler(event: SQSEvent, context: LambdaContext) -> dict[str, Any]:
    failures: list[str] = []
    requests: list[tuple[str, ErasureRequest]] = []
    for record in event.records:
        final = int(record.attributes.approximate_receive_count) >= MAX_RECEIVES
        request = _request(record.body, final)
        if request is None:
            logger.error("not an erasure job", extra={"message_id": record.message_id})
            failures.append(record.message_id)
        else:
            requests.append((record.message_id, request))
    if requests:
        deps = dependencies()
        try:
            jobs = run_erasures(deps.jobs, deps.eraser, [r for _, r in requests], time.time)
        except TransientFailure as exc:
            logger.warning("erasure pass failed; the batch comes back", extra={"reason": str(exc)})
            failures += [message_id for message_id, _ in requests]
        else:
            lines = sum(j.counts.lines_removed for j in jobs)
            metrics.add_metric(name="ErasuresDone", unit=MetricUnit.Count, value=len(jobs))
            metrics.add_metric(name="ErasedArchiveLines", unit=MetricUnit.Count, value=lines)
            logger.info("erasures done", extra={"erasure_ids": [j.erasure_id for j in jobs], "lines": lines})
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}
