"""The web console: static files served by the API function (``GET /console``, ``/console/{asset}``).

The page and its scripts are public and hold no data; every data call the page makes goes to the API's
own routes with the API key the user enters (kept in the browser's session storage only). Plain ES
modules and one style sheet, no build step: what is in this folder is what the browser runs.
"""

import html
from pathlib import Path

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from pulse.http import spec

FOLDER = Path(__file__).parent
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# the page loads its own files only, talks to its own API only, runs no inline script
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'self'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


def assets() -> dict[str, Path]:
    """The files ``/console/{asset}`` serves: scripts and style sheets of this folder, by name."""
    return {p.name: p for p in sorted(FOLDER.iterdir()) if p.suffix in TYPES}


def page(stage: str) -> str:
    """The page, its base set to this stage's console folder and its API root to this stage."""
    text = (FOLDER / "index.html").read_text(encoding="utf-8")
    return text.replace("{{stage}}", html.escape(stage, quote=True))


def install_console(app: APIGatewayRestResolver) -> None:
    files = assets()

    @app.get(
        "/console",
        security=[{}],
        summary="The web console",
        description="The console's page (public: it holds no data; its data calls carry the API key).",
        responses={200: {"description": "The page", "content": {"text/html": {"schema": {"type": "string"}}}}},
    )
    def console() -> Response[str]:
        return Response(200, "text/html; charset=utf-8", page(spec.base_path(app)), headers=HEADERS)

    @app.get("/console/<asset>", security=[{}], include_in_schema=False)
    def console_asset(asset: str) -> Response[str]:
        found = files.get(asset)
        if found is None:
            from pulse.http.errors import error_response

            return error_response(404, "not_found", f"the console has no file {asset!r}")
        return Response(200, TYPES[found.suffix], found.read_text(encoding="utf-8"), headers=HEADERS)
