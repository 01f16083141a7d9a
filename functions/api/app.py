"""API function: recommendations, ranking, similar and popular items, profiles, segments, health.

Wiring only: Powertools validates the request, one service call answers it, errors map in one place.
"""

import time
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from pulse import __version__
from pulse.adapters.dynamo import DynamoProfileStore, DynamoSegmentDirectory
from pulse.adapters.model_store import S3ModelSource
from pulse.config import get_settings
from pulse.http.errors import ApiError, error_response, install_error_handlers, openapi_info, unsupported_media_type
from pulse.services import profiles, recommendations
from pulse.services.recommendations import ModelHolder, ModelUnavailable

ID = r"^[A-Za-z0-9_.:@-]{1,128}$"

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)
install_error_handlers(app)
# Swagger UI and the spec at GET /swagger (behind the API key, like every route but /health)
app.enable_swagger(path="/swagger", **openapi_info())

settings = get_settings()
store = DynamoProfileStore(settings)
directory = DynamoSegmentDirectory(settings)


def _reload_failed(version: str, reason: str) -> None:
    metrics.add_metric(name="ModelReloadFailures", unit=MetricUnit.Count, value=1)
    logger.error("model version refused", extra={"refused_version": version, "reason": reason})


holder = ModelHolder(S3ModelSource(settings), settings.model_refresh_seconds, on_failure=_reload_failed)

UserIdPath = Annotated[str, Path(pattern=ID, description="The user's id (1-128 of A-Z a-z 0-9 _ . : @ -)")]
K = Annotated[int, Query(ge=1, le=100, description="How many items (1-100)")]
Explain = Annotated[bool, Query(description="Attach reasons to each item")]


@app.exception_handler(ModelUnavailable)
def _no_model(exc: ModelUnavailable) -> Response[str]:
    return error_response(503, "model_unavailable", str(exc))


def _ids(raw: str | None, name: str) -> list[str]:
    if not raw:
        return []
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    if len(ids) > 500 or any(len(i) > 128 for i in ids):
        raise ApiError(400, "invalid_request", f"{name}: at most 500 ids of 1-128 characters")
    return ids


def _timed(name: str, started: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1000)
    metrics.add_metadata(key="model_version", value=holder.version or "none")


@app.get("/health", security=[{}])  # public: load balancers and uptime checks call it without a key
def health() -> dict[str, Any]:
    model = recommendations.loaded_model(holder)
    return {"status": "ok", "version": __version__, "model_version": model.version if model else None}


@app.get("/users/<user_id>/recommendations")
def get_recommendations(
    user_id: UserIdPath,
    k: K = 10,
    category: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    exclude: Annotated[str | None, Query(max_length=65_000, description="Comma-separated item ids")] = None,
    explain: Explain = False,
) -> dict[str, Any]:
    started = time.perf_counter()
    body = recommendations.recommend(holder, store, user_id, k, category, _ids(exclude, "exclude"), explain)
    if body.pop("cold_start"):
        metrics.add_metric(name="ColdStartUsers", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="CandidatesScored", unit=MetricUnit.Count, value=body.pop("candidates"))
    _timed("RecommendationLatency", started)
    return body


class RankRequest(BaseModel):
    item_ids: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(min_length=1, max_length=500)
    explain: bool = False


@app.post("/users/<user_id>/rank")
def rank_items(user_id: UserIdPath, request: Annotated[RankRequest, Body()]) -> dict[str, Any]:
    started = time.perf_counter()
    body = recommendations.rank(holder, store, user_id, request.item_ids, request.explain)
    _timed("RankLatency", started)
    return body


@app.get("/items/<item_id>/similar")
def similar_items(item_id: Annotated[str, Path(min_length=1, max_length=128)], k: K = 10) -> dict[str, Any]:
    try:
        return recommendations.similar(holder, item_id, k)
    except recommendations.UnknownItem:
        raise ApiError(404, "item_not_found", f"the model knows no item {item_id}") from None


@app.get("/popular")
def popular_items(
    k: K = 10,
    segment: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    category: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
) -> dict[str, Any]:
    try:
        return recommendations.popular(holder, k, segment, category)
    except recommendations.UnknownSegment:
        raise ApiError(404, "segment_not_found", f"the model has no popularity for segment {segment}") from None


@app.get("/users/<user_id>/profile")
def get_profile(user_id: UserIdPath) -> dict[str, Any]:
    try:
        return profiles.get_profile(store, user_id)
    except profiles.UnknownUser:
        raise ApiError(404, "user_not_found", f"no profile for user {user_id}") from None


@app.delete("/users/<user_id>")
def delete_user(user_id: UserIdPath) -> Response[str]:
    erased = profiles.erase_user(store, user_id)
    logger.info("user erased", extra={"user_id": user_id, "existed": erased})
    return Response(status_code=204, body="")


@app.get("/segments")
def list_segments() -> dict[str, Any]:
    return profiles.list_segments(directory)


@app.get("/segments/<segment>/users")
def segment_users(
    segment: Annotated[str, Path(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size")] = 100,
    cursor: Annotated[str | None, Query(max_length=2048, description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    try:
        return profiles.segment_audience(directory, segment, limit, cursor)
    except profiles.UnknownSegment:
        raise ApiError(404, "segment_not_found", f"no segment named {segment}") from None
    except ValueError as exc:
        raise ApiError(400, "invalid_cursor", str(exc)) from None


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return unsupported_media_type(event) or app.resolve(event, context)
