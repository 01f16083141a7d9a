"""Collector function: POST /events puts valid behaviour events on the stream (wiring only)."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from pulse.http import errors
from pulse.http.models import CollectResult, EventBatch
from pulse.services.collect import collect
from pulse.wiring import TRACED_MODULES, CollectorDependencies, Provider, build_collector

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)
errors.install_error_handlers(app)
errors.reject_unknown_query_parameters(app)
dependencies = Provider(build_collector)
Deps = Annotated[CollectorDependencies, Depends(dependencies)]


@app.post("/events", responses=errors.responses(CollectResult, 400, 413, 415))
def post_events(deps: Deps, batch: Annotated[EventBatch, Body()]) -> CollectResult:
    result = collect(deps.publisher, batch.events)
    metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=result.accepted)
    metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=len(result.rejected))
    return result


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return errors.unsupported_media_type(event) or app.resolve(event, context)
