"""API function: profiles, segments and health behind API Gateway (wiring only)."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from pulse import __version__
from pulse.adapters.dynamo import DynamoProfileStore, DynamoSegmentDirectory
from pulse.adapters.models import ModelPointerReader
from pulse.config import get_settings
from pulse.http.errors import ApiError, install_error_handlers
from pulse.services import profiles

USER_ID = r"^[A-Za-z0-9_.:@-]{1,128}$"

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)
install_error_handlers(app)

settings = get_settings()
store = DynamoProfileStore(settings)
directory = DynamoSegmentDirectory(settings)
pointer = ModelPointerReader(settings)

UserIdPath = Annotated[str, Path(pattern=USER_ID, description="The user's id (1-128 of A-Z a-z 0-9 _ . : @ -)")]


@app.get("/health")
def health() -> dict[str, Any]:
    return {"status": "ok", "version": __version__, "model_version": pointer.current_version()}


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
    return app.resolve(event, context)
