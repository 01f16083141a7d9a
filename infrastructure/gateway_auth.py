"""API Gateway's Lambda REQUEST authorizer and usage-plan throttle, as the local API applies them.

Per request, in API Gateway's order: no credential header -> 401; the authorizer's answer for this
credential (cached for the authorizer's ``ReauthorizeEvery``, or asked now) -> 401 when it raised
``Unauthorized``, 500 when it failed; the policy must allow the method ARN (an explicit Deny wins)
or 403; a route that requires an API key needs the answer's ``usageIdentifierKey`` (403 without
one), and that key's token bucket (the usage plan's rate and burst) must hold a token, or 429.
Error codes and messages are API Gateway's ``$context.error`` values, in the template's gateway
response shape.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from infrastructure.functions import ApiRoute, Authorizer, FunctionError

Invoke = Callable[[dict[str, Any]], Any]
Refusal = tuple[int, str, str]
UNAUTHORIZED: Refusal = (401, "UNAUTHORIZED", "Unauthorized")
DENIED: Refusal = (403, "ACCESS_DENIED", "User is not authorized to access this resource")
NO_KEY: Refusal = (403, "INVALID_API_KEY", "Forbidden")
FAILED: Refusal = (500, "AUTHORIZER_FAILURE", "Internal server error")
THROTTLED: Refusal = (429, "THROTTLED", "Too Many Requests")


@dataclass
class Bucket:
    tokens: float
    at: float


def policy_allows(policy: dict[str, Any], method_arn: str) -> bool:
    """IAM's evaluation for one ``execute-api:Invoke``: an explicit Deny wins, then any Allow."""
    decisions = set()
    for statement in policy.get("Statement", []):
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if any(fnmatchcase(method_arn, pattern) for pattern in resources):
            decisions.add(str(statement.get("Effect", "")).lower())
    return "allow" in decisions and "deny" not in decisions


class GatewayAuth:
    def __init__(self, invokers: dict[str, Invoke], region: str, account: str, api_id: str = "local") -> None:
        self.invokers = invokers  # authorizer function logical id -> invoke
        self.prefix = f"arn:aws:execute-api:{region}:{account}:{api_id}"
        self._answers: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def check(self, route: ApiRoute, event: dict[str, Any]) -> Refusal | None:
        """None when the request may go on (``event`` then carries the authorizer's context)."""
        authorizer = route.authorizer
        if authorizer is None:
            return None
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        token = headers.get(authorizer.header.lower(), "")
        if not token:
            return UNAUTHORIZED
        context = event["requestContext"]
        method_arn = f"{self.prefix}/{context['stage']}/{event['httpMethod']}{event['path']}"
        try:
            answer = self._answer(authorizer, token, event, method_arn)
        except FunctionError:
            return FAILED
        if answer is None:
            return UNAUTHORIZED
        if not policy_allows(answer.get("policyDocument", {}), method_arn):
            return DENIED
        usage_key = answer.get("usageIdentifierKey")
        if route.api_key_required:
            if not usage_key:
                return NO_KEY
            if not self._take(str(usage_key), authorizer):
                return THROTTLED
        context["authorizer"] = {"principalId": answer.get("principalId"), **(answer.get("context") or {})}
        context["identity"]["apiKey"] = usage_key
        return None

    def _answer(
        self, authorizer: Authorizer, token: str, event: dict[str, Any], method_arn: str
    ) -> dict[str, Any] | None:
        key = (authorizer.name, token)
        now = time.monotonic()
        with self._lock:
            cached = self._answers.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        request = {"type": "REQUEST", "methodArn": method_arn, **event}
        request.pop("body", None)
        request.pop("isBase64Encoded", None)
        try:
            answer: dict[str, Any] | None = self.invokers[authorizer.function](request)
        except FunctionError as exc:
            if "Unauthorized" not in str(exc):
                raise
            answer = None  # API Gateway caches a 401 too
        if authorizer.cache_seconds > 0:
            with self._lock:
                self._answers[key] = (now + authorizer.cache_seconds, answer)
        return answer

    def _take(self, usage_key: str, authorizer: Authorizer) -> bool:
        if authorizer.rate_limit is None:
            return True
        burst = float(authorizer.burst_limit or authorizer.rate_limit)
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.setdefault(usage_key, Bucket(burst, now))
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * authorizer.rate_limit)
            bucket.at = now
            if bucket.tokens < 1:
                return False
            bucket.tokens -= 1
            return True
