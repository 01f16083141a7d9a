"""Kinesis-triggered profile updater: wiring only (see pulse.services.ingest for the logic)."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import KinesisDataStreamModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from pulse.services.ingest import StreamRecord, process_batch, shard_of
from pulse.wiring import TRACED_MODULES, Provider, build_updater

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
# A batch whose every record failed (DynamoDB throttled from its first record on) is reported as item
# failures like any other, not raised: an error would make Lambda bisect the batch and hit the throttled
# table with more invocations, and count a transient condition as a function error.
processor = BatchProcessor(event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False)

dependencies = Provider(build_updater)


class RecordNotApplied(Exception):
    """This record, or an earlier one of its shard, failed transiently; Lambda will re-deliver it."""


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    deps = dependencies()
    settings = deps.settings
    batch = parse(event=event, model=KinesisDataStreamModel)
    records = [
        StreamRecord(
            shard_id=shard_of(r.eventID),
            sequence_number=r.kinesis.sequenceNumber,
            data=r.kinesis.data if isinstance(r.kinesis.data, bytes) else b"",
            partition_key=r.kinesis.partitionKey,
            arrival=r.kinesis.approximateArrivalTimestamp,
            event_source_arn=r.eventSourceARN,
        )
        for r in batch.Records
    ]
    outcome = process_batch(
        records,
        deps.store,
        deps.dead_letters,
        half_life_days=settings.decay_half_life_days,
        impressions_tracked=settings.ad_impressions_tracked,
        concurrency=settings.updater_user_concurrency,
        catalog=deps.catalog,
        activity=deps.activity,
        attribution=deps.experiments.attribution,
        activation=deps.activation,
    )
    metrics.add_metric(name="NoticesPublished", unit=MetricUnit.Count, value=outcome.notices_published)
    metrics.add_metric(name="NoticesWaiting", unit=MetricUnit.Count, value=outcome.notices_waiting)
    metrics.add_metric(name="EventsApplied", unit=MetricUnit.Count, value=outcome.applied)
    metrics.add_metric(name="EventsFromRecommendations", unit=MetricUnit.Count, value=outcome.attributed)
    metrics.add_metric(name="EventsSkippedAsDuplicates", unit=MetricUnit.Count, value=outcome.skipped)
    metrics.add_metric(name="EventsDeadLettered", unit=MetricUnit.Count, value=outcome.dead_lettered)
    metrics.add_metric(name="ProfileWrites", unit=MetricUnit.Count, value=outcome.writes)
    metrics.add_metric(name="ProfileReadsSkipped", unit=MetricUnit.Count, value=outcome.reads_skipped)
    metrics.add_metric(name="RecordsRetried", unit=MetricUnit.Count, value=len(outcome.failed))
    metrics.add_metric(name="CatalogItemsChanged", unit=MetricUnit.Count, value=outcome.items_changed)
    metrics.add_metric(name="PopularityCountersUnwritten", unit=MetricUnit.Count, value=outcome.counters_unwritten)
    logger.info(
        "batch applied",
        extra={
            "records": len(records),
            "users": outcome.users,
            "applied": outcome.applied,
            "from_recommendations": outcome.attributed,
            "skipped": outcome.skipped,
            "dead_lettered": outcome.dead_lettered,
            "writes": outcome.writes,
            "reads_skipped": outcome.reads_skipped,
            "retried": len(outcome.failed),
            "items_changed": outcome.items_changed,
            "counters_unwritten": outcome.counters_unwritten,
        },
    )

    def record_handler(record: KinesisStreamRecord) -> None:
        if record.kinesis.sequence_number in outcome.failed:
            raise RecordNotApplied(record.kinesis.sequence_number)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
