"""Who may call which route: API clients, their scopes, and the policy an authorizer returns.

A client holds one or more scopes; each scope opens a fixed set of routes. A credential is a random
token (``pulse_`` + 43 URL-safe characters, 256 bits); only its SHA-256 is stored, so a leaked table
reveals no usable key. A slow password hash would add nothing: the token is not guessable.

The authorizer's answer is cached by API Gateway per credential for every route, so it lists every
route the client may call (path parameters as ``*``), never only the route of the first request.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

TOKEN_PREFIX = "pulse_"  # noqa: S105  # a prefix that makes a leaked key recognisable, not a secret
CLIENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
EVERY_SCOPE = ("GET", "/swagger")  # the API's description: any valid credential may read it

ROUTES_BY_SCOPE: dict[str, tuple[tuple[str, str], ...]] = {
    # producers: the key shipped inside an app or a backend that sends behaviour
    "ingest": (
        ("POST", "/events"),
        ("PUT", "/items/{item_id}"),
        ("PATCH", "/items/{item_id}"),
        ("POST", "/items"),
        ("DELETE", "/items/{item_id}"),
    ),
    # what a storefront calls to decide what to show
    "recommend": (
        ("GET", "/users/{user_id}/recommendations"),
        ("POST", "/users/{user_id}/rank"),
        ("GET", "/items/{item_id}/similar"),
        ("GET", "/popular"),
        ("GET", "/items/{item_id}"),
    ),
    # reading a user's profile (personal data)
    "profiles": (("GET", "/users/{user_id}/profile"),),
    # operators: erasure, audiences, and everything that changes what the product does
    "admin": (
        ("DELETE", "/users/{user_id}"),
        ("GET", "/erasures/{erasure_id}"),
        ("GET", "/segments"),
        ("GET", "/segments/{segment}/users"),
        ("PUT", "/segments/{segment}"),
        ("GET", "/segments/{segment}"),
        ("DELETE", "/segments/{segment}"),
        ("POST", "/segments/{segment}/exports"),
        ("GET", "/exports/{export_id}"),
        ("PUT", "/items/{item_id}"),
        ("PATCH", "/items/{item_id}"),
        ("POST", "/items"),
        ("DELETE", "/items/{item_id}"),
        ("GET", "/items/{item_id}"),
        ("GET", "/experiments"),
        ("GET", "/experiments/{experiment_id}"),
        ("PUT", "/experiments/{experiment_id}"),
        ("DELETE", "/experiments/{experiment_id}"),
        ("GET", "/experiments/{experiment_id}/results"),
        ("POST", "/experiments/{experiment_id}/promote"),
        ("GET", "/overview"),
        ("GET", "/models"),
        ("POST", "/models/{version}/promote"),
        ("POST", "/models/rollback"),
    ),
}
SCOPES = tuple(ROUTES_BY_SCOPE)


class AccessError(ValueError):
    """A client definition that cannot be stored (unknown scope, bad id)."""


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_scopes(scopes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise AccessError(f"unknown scope {', '.join(unknown)}; scopes are {', '.join(SCOPES)}")
    if not scopes:
        raise AccessError(f"give at least one scope of {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s in scopes)


def check_client_id(client_id: str) -> str:
    if not CLIENT_ID.match(client_id):
        raise AccessError(f"client id {client_id!r}: 1-63 of a-z 0-9 -, starting with a letter or digit")
    return client_id


@dataclass(frozen=True)
class Client:
    """One credential of a client. Rotation gives a client a second credential for a while."""

    client_id: str
    key_hash: str
    scopes: tuple[str, ...]
    created_at: float
    usage_key: str  # the API Gateway API key that carries this client's throttle
    description: str = ""
    revoked_at: float | None = None
    expires_at: float | None = None  # an old credential after rotation stops working then

    def active(self, now: float) -> bool:
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True)
class Grant:
    """What an authorizer tells API Gateway: the routes open to the caller, for how to throttle it."""

    principal: str | None
    routes: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    usage_key: str | None = None
    # IAM's ``*`` also matches ``/``: GET /items/* would open GET /items/{id}/similar. Routes a wildcard
    # of ``routes`` covers but the scopes do not open are denied explicitly (a Deny wins).
    denied: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def routes_for(scopes: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    routes = [EVERY_SCOPE]
    for scope in scopes:
        routes.extend(ROUTES_BY_SCOPE.get(scope, ()))
    return tuple(routes)


def grant(client: Client | None, now: float) -> Grant:
    """Every route the credential opens now; none for an unknown, revoked or expired one."""
    if client is None or not client.active(now):
        return Grant(None)
    routes = routes_for(client.scopes)
    return Grant(client.client_id, routes, client.usage_key, overlaps(routes))


def overlaps(routes: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """Known routes outside ``routes`` that one of their wildcards would match."""
    known = {EVERY_SCOPE, *(r for scope in ROUTES_BY_SCOPE.values() for r in scope)}
    others = sorted(known - set(routes))
    return tuple((m, p) for m, p in others if allowed(routes, m, re.sub(r"\{[^}]+\}", "x", p)))


def resource_glob(path: str) -> str:
    """``/users/{user_id}/profile`` -> ``/users/*/profile`` (a path parameter as IAM's wildcard)."""
    return re.sub(r"\{[^}]+\}", "*", path)


def allowed(routes: tuple[tuple[str, str], ...], method: str, path: str) -> bool:
    return any(m == method and fnmatchcase(path, resource_glob(p)) for m, p in routes)
