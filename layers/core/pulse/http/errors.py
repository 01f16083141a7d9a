"""One JSON error shape everywhere: ``{"error": {"code": "<stable_code>", "message": "<for humans>"}}``.

Domain and validation errors map to 4xx here, in one place (``STATUS``); anything unexpected is logged
and becomes a 500 ``internal_error`` without leaking details. ``responses`` declares, per route, the
statuses it can answer, so the generated spec documents every one of them.
"""

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    NotFoundError,
    ServiceError,
)
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from pulse import errors
from pulse.http.models import ErrorBody

logger = Logger(child=True)

# domain refusal -> (status, stable code); the most specific class first
STATUS: list[tuple[type[errors.PulseError], int, str]] = [
    (errors.UnknownUser, 404, "user_not_found"),
    (errors.UnknownSegment, 404, "segment_not_found"),
    (errors.UnknownItem, 404, "item_not_found"),
    (errors.UnknownErasure, 404, "erasure_not_found"),
    (errors.UnknownExperiment, 404, "experiment_not_found"),
    (errors.UnknownExport, 404, "export_not_found"),
    (errors.UnknownModelVersion, 404, "model_version_not_found"),
    (errors.Conflict, 409, "conflict"),
    (errors.InvalidRequest, 400, "invalid_request"),
    (errors.ModelUnavailable, 503, "model_unavailable"),
]
DESCRIPTIONS = {
    400: "Invalid request: a parameter or the body breaks the documented rules",
    401: "No credential: the x-api-key header is missing (answered by API Gateway)",
    403: "The credential is unknown or revoked, or its scopes do not include this route (API Gateway)",
    404: "Not found",
    409: "Conflicts with the stored state (the message says which)",
    413: "Request body over 10 MB (answered by API Gateway)",
    415: "The body is not application/json",
    429: "This client's throttle is exceeded (answered by API Gateway); retry with backoff",
    500: "Unexpected error; the request id is in the logs",
    503: "No model version is being served yet",
}


def responses(model: type[Any] | None, *statuses: int, public: bool = False) -> dict[int, Any]:
    """The OpenAPI responses of a route: its answer (``None``: 204 without a body) and its errors.
    Every route with a credential can also answer 401, 403, 429 and 500."""
    out: dict[int, Any] = (
        {204: {"description": "Done; no body"}}
        if model is None
        else {200: {"description": "OK", "content": {"application/json": {"model": model}}}}
    )
    for status in sorted({*statuses, 500} | (set() if public else {401, 403, 429})):
        out[status] = {"description": DESCRIPTIONS[status], "content": {"application/json": {"model": ErrorBody}}}
    return out


def error_response(status: int, code: str, message: str) -> Response[Any]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps({"error": {"code": code, "message": message}}),
    )


def _describe(problems: Any) -> str:
    parts = []
    for err in list(problems)[:5]:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        where = ".".join(loc) or "request"
        parts.append(f"{where}: {str(err.get('msg', 'invalid')).removeprefix('Value error, ')}")
    return "; ".join(parts) or "invalid request"


MAX_JSON_DEPTH = 32  # no request body of this API nests deeper; Python's parser recurses per level


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in a JSON text (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _refusal(status: int, code: str, message: str) -> dict[str, Any]:
    body = json.dumps({"error": {"code": code, "message": message}})
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": body,
        "isBase64Encoded": False,
    }


def unsupported_media_type(event: dict[str, Any]) -> dict[str, Any] | None:
    """A proxy response for a body no route can take, before any parser sees it: 415 when it is not
    JSON (every body is JSON), 400 when it nests deeper than ``MAX_JSON_DEPTH`` (which would exhaust
    the parser's recursion)."""
    raw = event.get("body")
    if not raw:
        return None
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    media = headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()
    if not (media == "application/json" or media.endswith("+json") or not media):
        return _refusal(415, "unsupported_media_type", "send the body as application/json")
    if not event.get("isBase64Encoded") and json_depth(str(raw)) > MAX_JSON_DEPTH:
        return _refusal(400, "invalid_request", f"the body nests arrays or objects deeper than {MAX_JSON_DEPTH} levels")
    return None


def reject_unknown_query_parameters(app: APIGatewayRestResolver) -> None:
    """A query parameter the route does not declare is a 400 naming it (``?limt=5`` must not be
    silently ignored)."""

    def check(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
        route = app.context.get("_route")
        given = set(app.current_event.query_string_parameters or {})
        if route is not None and given and route.include_in_schema:  # Swagger UI takes ?format=json
            declared = {p.alias for p in route.dependant.query_params}
            unknown = sorted(given - declared)
            if unknown:
                allowed = ", ".join(sorted(declared)) or "none"
                return error_response(
                    400, "invalid_request", f"unknown query parameter {unknown[0]} (allowed: {allowed})"
                )
        return next_middleware(app)

    app.use([check])


def install_error_handlers(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(errors.PulseError)
    def _refused(exc: errors.PulseError) -> Response[Any]:
        for kind, status, code in STATUS:
            if isinstance(exc, kind):
                return error_response(status, code, exc.message)
        return error_response(400, "invalid_request", exc.message)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response[Any]:
        return error_response(400, "invalid_request", _describe(exc.errors()))

    @app.exception_handler(RequestUnsupportedContentType)
    def _media_type(exc: RequestUnsupportedContentType) -> Response[Any]:
        return error_response(415, "unsupported_media_type", "send the body as Content-Type: application/json")

    @app.exception_handler([UnicodeDecodeError, json.JSONDecodeError])
    def _undecodable(exc: Exception) -> Response[Any]:
        return error_response(400, "invalid_request", "the body is not UTF-8 JSON")

    @app.exception_handler(BadRequestError)
    def _bad_request(exc: BadRequestError) -> Response[Any]:
        return error_response(400, "invalid_request", str(exc.msg))

    @app.exception_handler(NotFoundError)
    def _not_found_error(exc: NotFoundError) -> Response[Any]:
        return error_response(404, "not_found", str(exc.msg))

    @app.exception_handler(ServiceError)
    def _service_error(exc: ServiceError) -> Response[Any]:
        code = "invalid_request" if 400 <= exc.status_code < 500 else "internal_error"
        return error_response(exc.status_code, code, str(exc.msg))

    @app.not_found
    def _no_route(exc: Exception) -> Response[Any]:
        event = app.current_event
        return error_response(404, "route_not_found", f"no route {event.http_method} {event.path}")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[Any]:
        logger.error("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "internal error; the request id is in the logs")
