"""API Gateway (REST, Lambda proxy integration) emulated over local HTTP.

Routes come from the functions' ``Api`` events in the template. A request becomes a v1 proxy event
(resource, path, httpMethod, headers and multiValueHeaders, query strings, pathParameters,
requestContext, body), the function's answer becomes the HTTP response. As with ``sam local
start-api``, credentials are not checked unless the local stack is asked to (``--auth``); then each
route's Lambda authorizer runs as API Gateway runs it (``gateway_auth.py``): 401 without the
credential header, 403 when the returned policy does not allow the route, answers cached per
credential, and each client throttled by the usage plan's limits.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import string
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from infrastructure.functions import ApiRoute, FunctionError
from infrastructure.gateway_auth import GatewayAuth

log = logging.getLogger("pulse.local.api")
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
Invoke = Callable[[dict[str, Any]], Any]


@dataclass
class BoundRoute:
    route: ApiRoute
    pattern: re.Pattern[str]
    invoke: Invoke


def _compile(path: str) -> re.Pattern[str]:
    regex = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            regex += f"(?P<{name.rstrip('+')}>.+)" if name.endswith("+") else f"(?P<{name}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}/?$")


def _json_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return status, {"Content-Type": "application/json"}, body


_SAFE_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_SAFE_CHARS = set(string.ascii_letters + string.digits + "-._~()'!*:@,;=+&$")


def _decode_safe(raw_path: str) -> str:
    """The event's ``path``: escapes of characters a path carries unescaped (``%3A`` for ``:``) are
    decoded, as API Gateway does; other escapes stay, so the function's router still sees one
    segment per parameter and refuses what its patterns do not allow (a 400, not a 404)."""

    def decode(found: re.Match[str]) -> str:
        char = chr(int(found.group(1), 16))
        return char if char in _SAFE_CHARS else found.group(0)

    return _SAFE_ESCAPE.sub(decode, raw_path)


class LocalApi:
    def __init__(self, stage: str = "prod", auth: GatewayAuth | None = None) -> None:
        self.routes: list[BoundRoute] = []
        self.stage = stage
        self.auth = auth  # None: credentials are not checked

    def add(self, route: ApiRoute, invoke: Invoke) -> None:
        self.routes.append(BoundRoute(route, _compile(route.path), invoke))
        # literal paths before parameterised ones, as API Gateway prefers the most specific match
        self.routes.sort(key=lambda r: (r.route.path.count("{"), -len(r.route.path)))

    def match(self, method: str, path: str) -> tuple[BoundRoute, dict[str, str]] | None:
        for bound in self.routes:
            found = bound.pattern.match(path)
            if found and bound.route.method in (method, "ANY"):
                # a lone surrogate (valid in a JSON string) arrives as its 3 UTF-8-style bytes: decoded back to itself
                return bound, {k: unquote(v, errors="surrogatepass") for k, v in found.groupdict().items()}
        return None

    def build_event(
        self,
        bound: BoundRoute,
        params: dict[str, str],
        method: str,
        raw_path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
    ) -> dict[str, Any]:
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in headers:
            single[name] = value
            multi.setdefault(name, []).append(value)
        qs_single: dict[str, str] = {}
        qs_multi: dict[str, list[str]] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            qs_single[name] = value
            qs_multi.setdefault(name, []).append(value)
        try:
            text: str | None = body.decode("utf-8") if body else None
            is_b64 = False
        except UnicodeDecodeError:
            text, is_b64 = base64.b64encode(body).decode(), True
        lower = {k.lower(): v for k, v in single.items()}
        now = time.time()
        path = _decode_safe(raw_path)
        return {
            "resource": bound.route.path,
            "path": path,
            "httpMethod": method,
            "headers": single or None,
            "multiValueHeaders": multi or None,
            "queryStringParameters": qs_single or None,
            "multiValueQueryStringParameters": qs_multi or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": "local",
                "resourcePath": bound.route.path,
                "httpMethod": method,
                # as sam local start-api: the stage is not part of the URL the client called, so Swagger
                # UI's "Try it out" (pointed at the stage's base path) stays on this server's paths
                "path": path,
                "stage": self.stage,
                "requestId": str(uuid.uuid4()),
                "extendedRequestId": str(uuid.uuid4()),
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "requestTimeEpoch": int(now * 1000),
                "accountId": "123456789012",
                "apiId": "local",
                "protocol": "HTTP/1.1",
                "domainName": lower.get("host", "127.0.0.1"),
                "identity": {
                    "sourceIp": source_ip,
                    "userAgent": lower.get("user-agent"),
                    "apiKey": lower.get("x-api-key"),
                },
            },
            "body": text,
            "isBase64Encoded": is_b64,
        }

    def handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str = "127.0.0.1"
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        path = parts.path or "/"
        found = self.match(method, path)
        if found is None:
            allowed = sorted({b.route.method for b in self.routes if b.pattern.match(path)})
            if allowed:  # a known path, another method (deployed, API Gateway answers 404 here)
                status, headers_out, payload = _json_error(
                    405, "method_not_allowed", f"{method} {path}: allowed {', '.join(allowed)}"
                )
                return status, headers_out | {"Allow": ", ".join(allowed)}, payload
            # deployed, the template's gateway responses give the same status and shape
            return _json_error(404, "route_not_found", f"no route {method} {path}")
        bound, params = found
        event = self.build_event(bound, params, method, path, parts.query, headers, body, source_ip)
        if self.auth is not None:
            refused = self.auth.check(bound.route, event)
            if refused is not None:
                return _json_error(*refused)
        try:
            result = bound.invoke(event)
        except FunctionError as exc:
            log.error("%s %s: %s", method, path, exc)
            return _json_error(502, "internal_error", "the function failed")
        if not isinstance(result, dict) or "statusCode" not in result:
            return _json_error(502, "internal_error", "the function returned a malformed response")
        out_headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            out_headers[str(name)] = ", ".join(str(v) for v in values)
        raw = result.get("body") or ""
        payload = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        return int(result["statusCode"]), out_headers, payload

    def server(self, host: str, port: int) -> ThreadingHTTPServer:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # what the HTTP server itself refuses (a request line over 64 KB: 414) keeps the API's error shape
            error_content_type = "application/json"
            error_message_format = '{"error": {"code": "http_%(code)d", "message": "%(message)s"}}'

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    status, headers, payload = _json_error(413, "payload_too_large", "request body over 10 MB")
                    self.close_connection = True
                else:
                    body = self.rfile.read(length) if length else b""
                    status, headers, payload = api.handle(
                        self.command, self.path, list(self.headers.items()), body, self.client_address[0]
                    )
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

            def __getattr__(self, name: str) -> Any:
                # any other method (TRACE, ...) is routed too: API Gateway answers it, never a bare 501
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:
                log.info("%s %s", self.address_string(), format % args)

        httpd = ThreadingHTTPServer((host, port), Handler)
        httpd.daemon_threads = True
        return httpd
