"""The published OpenAPI spec: what it says about the API as a whole, its final form, and Swagger UI.

``make openapi`` generates the spec from the routes of every API function, merges it and writes it
to ``openapi.json`` (and this package, which serves it); ``GET /swagger`` shows it with "Try it out"
pointed at the stage that served the page.
"""

import json
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

SPEC_FILE = Path(__file__).with_name("openapi.json")
# Powertools documents a 422 for request validation; this API answers 400 (pulse.http.errors)
POWERTOOLS_ONLY = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def openapi_info() -> dict[str, Any]:
    """Title, version and security scheme of the published OpenAPI spec (one place for both functions)."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

    from pulse import __version__

    return {
        "title": "Pulse API",
        "version": __version__,
        "description": "Real-time user profiles, segments and recommendations. Every route but /health "
        "requires a client credential in the x-api-key header; the client's scopes (ingest, recommend, "
        "profiles, admin) decide which routes it may call. Errors: "
        '{"error": {"code": "<stable_code>", "message": "<text>"}}.',
        "security_schemes": {"apiKey": APIKey.model_validate({"name": "x-api-key", "in": APIKeyIn.header})},
        "security": [{"apiKey": []}],
    }


def finalise(doc: dict[str, Any]) -> dict[str, Any]:
    """Drop what Powertools adds but the API never answers (422s, a 204's body), sort paths and schemas."""
    for operations in doc["paths"].values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            responses.pop("422", None)
            if "204" in responses:  # Powertools describes the handler's Response[str]; a 204 has no body
                responses["204"].pop("content", None)
    schemas = {k: v for k, v in doc.get("components", {}).get("schemas", {}).items() if k not in POWERTOOLS_ONLY}
    doc["paths"] = dict(sorted(doc["paths"].items()))
    doc.setdefault("components", {})["schemas"] = dict(sorted(schemas.items()))
    doc["servers"] = [{"url": "/", "description": "The stage that serves this spec"}]
    return doc


def base_path(app: APIGatewayRestResolver) -> str:
    """The stage prefix the client called (``/prod`` deployed, empty locally and in direct invokes)."""
    context = (app.current_event.raw_event.get("requestContext") or {}) if app.current_event else {}
    stage, path = context.get("stage"), context.get("path") or ""
    return f"/{stage}" if stage and stage != "$default" and path.startswith(f"/{stage}/") else ""


def install_swagger(app: APIGatewayRestResolver, path: str = "/swagger") -> None:
    """Swagger UI and ``?format=json`` for the whole API (every function's routes), behind the API key.
    Powertools' Swagger UI package is imported on the first call: it loads the OpenAPI models (0.13 s
    of every cold start otherwise, measured)."""

    @app.get(path, include_in_schema=False)
    def swagger() -> Response[str]:
        doc = json.loads(SPEC_FILE.read_text())
        doc["servers"] = [{"url": base_path(app) or "/"}]  # "Try it out" goes to this stage
        spec = json.dumps(doc).replace("</", "<\\/")
        if (app.current_event.query_string_parameters or {}).get("format") == "json":
            return Response(200, "application/json", spec)
        from aws_lambda_powertools.event_handler.openapi import swagger_ui
        from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

        assets = Path(swagger_ui.__path__[0])
        js = (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
        css = (assets / "swagger-ui.min.css").read_text(encoding="utf-8")
        return Response(200, "text/html", generate_swagger_html(spec, js, css, "", None, True))
