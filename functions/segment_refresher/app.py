"""Scheduled segment refresher: memberships that change with time alone (wiring only; see
pulse.services.segment_refresh for the logic)."""

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from pulse.services.activation import publish_written, sweep
from pulse.services.segment_definitions import evaluate_pending
from pulse.services.segment_refresh import profile_letter, refresh_due_segments
from pulse.wiring import TRACED_MODULES, Provider, build_refresher

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
dependencies = Provider(build_refresher)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    scheduled = parse(event=event, model=EventBridgeModel)  # the schedule's "Scheduled Event"
    deps = dependencies()

    def isolate(user_id: str, exc: Exception) -> None:  # the profile goes to the dead letters with its cause
        reason = f"segment refresh failed: {type(exc).__name__}: {exc}"
        logger.error("profile not refreshed", extra={"reason": reason})
        deps.dead_letters.send([profile_letter(user_id, reason)])

    outcome = refresh_due_segments(
        deps.store,
        deps.due,
        now=time.time(),
        seconds_left=lambda: context.get_remaining_time_in_millis() / 1000.0,
        on_failure=isolate,
    )
    metrics.add_metric(name="SegmentProfilesRefreshed", unit=MetricUnit.Count, value=outcome.refreshed)
    metrics.add_metric(name="SegmentMembershipsJoined", unit=MetricUnit.Count, value=outcome.joined)
    metrics.add_metric(name="SegmentMembershipsLeft", unit=MetricUnit.Count, value=outcome.left)
    metrics.add_metric(name="SegmentRefreshUnfinished", unit=MetricUnit.Count, value=outcome.unfinished)
    metrics.add_metric(name="SegmentRefreshFailedProfiles", unit=MetricUnit.Count, value=outcome.failed)
    # then the background pass of changed definitions over every profile, in the time that is left
    evaluated = evaluate_pending(
        deps.definitions,
        deps.store,
        deps.scan,
        deps.directory,
        now=time.time(),
        settle_seconds=deps.settle_seconds,
        seconds_left=lambda: context.get_remaining_time_in_millis() / 1000.0,
        catalog=deps.segment_catalog,
    )
    metrics.add_metric(name="SegmentDefinitionProfilesEvaluated", unit=MetricUnit.Count, value=evaluated.scanned)
    # the membership changes of this run, then what earlier writes left in the outbox
    published = publish_written(deps.activation, outcome.notices + evaluated.notices)
    swept = sweep(deps.activation, time.time())
    metrics.add_metric(name="NoticesPublished", unit=MetricUnit.Count, value=published.published + swept.published)
    metrics.add_metric(name="NoticesWaiting", unit=MetricUnit.Count, value=published.waiting + swept.waiting)
    result = {k: v for k, v in outcome.__dict__.items() if k != "notices"} | {
        "definitions_evaluated": evaluated.scanned,
        "definitions": evaluated.segments,
        "notices_published": published.published + swept.published,
        "notices_swept": swept.published,
    }
    logger.info("segments refreshed", extra={**result, "scheduled_at": scheduled.time.isoformat()})
    return result
