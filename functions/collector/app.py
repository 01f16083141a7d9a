"""Collector function: POST /events puts valid behaviour events on the stream (wiring only)."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from pulse.adapters.aws import KinesisEventPublisher
from pulse.config import get_settings
from pulse.http.errors import install_error_handlers, openapi_info, unsupported_media_type
from pulse.services.collect import collect

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)
install_error_handlers(app)
app.enable_swagger(path="/events/swagger", **openapi_info())  # not routed by API Gateway: spec generation only
publisher = KinesisEventPublisher(get_settings())


class EventBatch(BaseModel):
    # Each event is validated on its own so one bad event is reported by index, not fatal.
    events: list[Any] = Field(min_length=1, max_length=500, description="Behaviour events (contract section 1)")


class Rejection(BaseModel):
    index: int
    error: str


class CollectResult(BaseModel):
    accepted: int
    rejected: list[Rejection]


@app.post("/events")
def post_events(batch: Annotated[EventBatch, Body()]) -> CollectResult:
    result = collect(publisher, batch.events)
    metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=result["accepted"])
    metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=len(result["rejected"]))
    return CollectResult.model_validate(result)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return unsupported_media_type(event) or app.resolve(event, context)
