"""Trainer function: retrain on the archive's recent window, publish, promote through the gate (wiring
only; see training.retrain). Run by its schedule ("Scheduled Event") or on demand (``pulse retrain``:
a JSON object with optional ``window_days``, ``max_events``, ``margin``).

Every run leaves a record in the bucket; a failed one also raises, so Lambda counts an error (the
``TrainingFailedAlarm``), and publishes ``TrainingFailed``. ``TrainingRefusalsInARow`` feeds the
alarm on repeated refusals.
"""

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from pulse.wiring import Provider, build_trainer
from training.retrain import RetrainRequest, RetrainSettings, RunFailed, catalogue_of, retrain
from training.runs import RunRecord

logger = Logger()
metrics = Metrics()
dependencies = Provider(build_trainer)
GATE_FIGURES = {"candidate": "GateCandidateNdcg", "served": "GateServedNdcg"}
GATE_FIGURES |= {"popularity": "GatePopularityNdcg", "item-knn": "GateItemKnnNdcg"}


def _request(event: dict[str, Any]) -> tuple[str, RetrainRequest]:
    if event.get("detail-type") == "Scheduled Event":
        parse(event=event, model=EventBridgeModel)
        return "schedule", RetrainRequest.model_validate({})
    return "on demand", RetrainRequest.model_validate(event)


def _publish(record: RunRecord) -> None:
    metrics.add_metric(name="TrainingRuns", unit=MetricUnit.Count, value=1)
    for status in ("promoted", "refused", "skipped", "failed"):
        metrics.add_metric(name=f"Training{status.title()}", unit=MetricUnit.Count, value=int(record.status == status))
    metrics.add_metric(name="TrainingRefusalsInARow", unit=MetricUnit.Count, value=record.refusals_in_a_row)
    if record.version:
        metrics.add_metric(name="TrainingEvents", unit=MetricUnit.Count, value=record.window.get("events", 0))
        metrics.add_metric(name="TrainingTruncated", unit=MetricUnit.Count, value=int(record.window["truncated"]))
        metrics.add_metric(name="TrainingSeconds", unit=MetricUnit.Seconds, value=record.training_seconds or 0)
    for name, metric in GATE_FIGURES.items():
        if name in ((record.gate or {}).get("figures") or {}):
            metrics.add_metric(name=metric, unit=MetricUnit.NoUnit, value=record.gate["figures"][name])  # type: ignore[index]


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        trigger, request = _request(event)
    except ValidationError as exc:  # a bad on-demand request: said, not retried, no alarm
        logger.error("not a retraining request", extra={"reason": str(exc)})
        return {"status": "rejected", "reason": f"not a retraining request: {exc}"}
    deps = dependencies()
    s = deps.settings
    settings = RetrainSettings(
        bucket=s.model_bucket,
        window_days=request.window_days or s.training_window_days,
        max_events=request.max_events or s.training_max_events,
        margin=s.gate_margin if request.margin is None else request.margin,
        eval_users=s.training_eval_users,
        dense_max_items=s.training_dense_max_items,
    )
    try:
        record = retrain(
            deps.s3,
            settings,
            lambda: catalogue_of(deps.catalog.changes(0.0)) or None,
            now=time.time(),
            trigger=trigger,
            seconds_left=lambda: context.get_remaining_time_in_millis() / 1000.0,
            say=logger.info,
        )
    except RunFailed as failed:
        _publish(failed.record)  # TrainingFailed 1; raising makes Lambda count the error (the alarm)
        logger.exception("retraining failed; the served version is unchanged")
        raise
    _publish(record)
    logger.info("retraining done", extra={"status": record.status, "version": record.version, "reason": record.reason})
    return record.as_dict()
