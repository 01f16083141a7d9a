"""One JSON error shape everywhere: ``{"error": {"code": "<stable_code>", "message": "<for humans>"}}``.

Domain and validation errors map to 4xx here, in one place; anything unexpected is logged and becomes
a 500 ``internal_error`` without leaking details.
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
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

logger = Logger(child=True)


def openapi_info() -> dict[str, Any]:
    """Title, version and security scheme of the published OpenAPI spec (one place for both functions)."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

    from pulse import __version__

    return {
        "title": "Pulse API",
        "version": __version__,
        "description": "Real-time user profiles, segments and recommendations. Every route but /health "
        "requires an API Gateway API key in the x-api-key header. Errors: "
        '{"error": {"code": "<stable_code>", "message": "<text>"}}.',
        "security_schemes": {"apiKey": APIKey.model_validate({"name": "x-api-key", "in": APIKeyIn.header})},
        "security": [{"apiKey": []}],
    }


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str) -> Response[Any]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps({"error": {"code": code, "message": message}}),
    )


def _describe(errors: Any) -> str:
    parts = []
    for err in list(errors)[:5]:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        where = ".".join(loc) or "request"
        parts.append(f"{where}: {str(err.get('msg', 'invalid')).removeprefix('Value error, ')}")
    return "; ".join(parts) or "invalid request"


def unsupported_media_type(event: dict[str, Any]) -> dict[str, Any] | None:
    """A 415 proxy response for a body that is not JSON, before any parser sees it (every body is JSON)."""
    if not event.get("body"):
        return None
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    media = headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json") or not media:
        return None
    body = json.dumps({"error": {"code": "unsupported_media_type", "message": "send the body as application/json"}})
    return {"statusCode": 415, "headers": {"Content-Type": "application/json"}, "body": body, "isBase64Encoded": False}


def install_error_handlers(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response[Any]:
        return error_response(exc.status, exc.code, exc.message)

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
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "internal error; the request id is in the logs")
