"""API clients: create, list, rotate and revoke credentials without a redeploy.

On a deployed stack each client also gets an API Gateway API key in the stack's usage plan: the
authorizer names it, and API Gateway throttles each client on its own. Revoking deletes that key, so
a revoked credential stops at once there; elsewhere (the local stack) it stops when the
authorizer's cached answer expires (AuthorizerCacheSeconds, 60 s by default).
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

import click

from pulse.access import SCOPES, AccessError, Client
from scripts.cli import targeted
from scripts.cli.target import Target


def _directory(target: Target) -> Any:
    from pulse.adapters.clients import DynamoClientDirectory
    from pulse.config import Settings

    settings = Settings.model_validate(
        {"CLIENTS_TABLE": target.name("clients"), "AWS_REGION": target.region, "AWS_ENDPOINT_URL": target.endpoint}
    )
    return DynamoClientDirectory(settings)


def _usage_plan(target: Target) -> str | None:
    return target.outputs.get("UsagePlanId")  # only a deployed stack has one


def _new_usage_key(target: Target, client_id: str) -> str:
    """The API Gateway key that carries the client's throttle (its value is not a secret: only the
    authorizer hands it to API Gateway). Locally, the client id names the throttle bucket."""
    plan = _usage_plan(target)
    if plan is None:
        return client_id
    import boto3

    gateway = boto3.client("apigateway")
    value = secrets.token_urlsafe(30)
    name = f"{target.stack}-{client_id}"
    key = gateway.create_api_key(name=name, enabled=True, value=value, description="pulse client")
    gateway.create_usage_plan_key(usagePlanId=plan, keyId=key["id"], keyType="API_KEY")
    return value


def _delete_usage_key(target: Target, usage_key: str) -> None:
    if _usage_plan(target) is None:
        return
    import boto3

    gateway = boto3.client("apigateway")
    for page in gateway.get_paginator("get_api_keys").paginate(includeValues=True):
        for key in page.get("items", []):
            if key.get("value") == usage_key:
                gateway.delete_api_key(apiKey=key["id"])


def _when(at: float | None) -> str:
    return "-" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M")


def _state(client: Client, now: float) -> str:
    if client.active(now):
        return "active" if client.expires_at is None else f"until {_when(client.expires_at)}"
    return "revoked" if client.revoked_at is not None else "expired"


@click.group(name="clients")
def clients() -> None:
    """API clients and their scopes: ingest, recommend, profiles, admin."""


@clients.command(name="create")
@click.argument("client_id")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(SCOPES), help="repeatable")
@click.option("--description", default="", help="who uses it (an app, a service, a team)")
@targeted
def create(target: Target, client_id: str, scopes: tuple[str, ...], description: str) -> None:
    """Create a client and print its credential (shown once; only its hash is stored)."""
    directory = _directory(target)
    if directory.of(client_id):
        raise click.ClickException(f"client {client_id} exists: `pulse clients rotate {client_id}` gives a new key")
    try:
        client, token = directory.create(client_id, list(scopes), _new_usage_key(target, client_id), description)
    except AccessError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"client {client.client_id} ({', '.join(client.scopes)}) on {target.describe()}", err=True)
    click.echo("send it as the x-api-key header; it is not shown again:", err=True)
    click.echo(token)


@clients.command(name="list")
@targeted
def list_clients(target: Target) -> None:
    """Every credential: client, scopes, created, state (active, expiring after a rotation, revoked)."""
    now = time.time()
    rows = _directory(target).all()
    click.echo(f"{'client':<24} {'scopes':<34} {'created':<17} {'key':<10} state")
    for client in rows:
        scopes, created = ",".join(client.scopes), _when(client.created_at)
        click.echo(f"{client.client_id:<24} {scopes:<34} {created:<17} {client.key_hash[:8]:<10} {_state(client, now)}")
    click.echo(f"{len(rows)} credential(s)", err=True)


@clients.command(name="rotate")
@click.argument("client_id")
@click.option("--grace-hours", type=float, default=24.0, show_default=True, help="old keys keep working this long")
@targeted
def rotate(target: Target, client_id: str, grace_hours: float) -> None:
    """Give a client a new credential; its old ones stop after the grace period."""
    directory = _directory(target)
    current = [c for c in directory.of(client_id) if c.active(time.time())]
    if not current:
        raise click.ClickException(f"no active client {client_id}")
    newest = max(current, key=lambda c: c.created_at)
    _, token = directory.create(client_id, list(newest.scopes), newest.usage_key, newest.description)
    until = time.time() + grace_hours * 3600
    for old in current:
        directory.end(old, until, revoke=False)
    click.echo(f"client {client_id}: new key; {len(current)} old key(s) work until {_when(until)} UTC", err=True)
    click.echo(token)


@clients.command(name="revoke")
@click.argument("client_id")
@targeted
def revoke(target: Target, client_id: str) -> None:
    """Revoke every credential of a client now (on a deployed stack its throttle key is deleted too)."""
    directory = _directory(target)
    found = directory.of(client_id)
    if not found:
        raise click.ClickException(f"no client {client_id}")
    now = time.time()
    for client in found:
        directory.end(client, now, revoke=True)
    for usage_key in {c.usage_key for c in found}:
        _delete_usage_key(target, usage_key)
    click.echo(f"client {client_id}: {len(found)} key(s) revoked")


COMMANDS = [clients]
