"""``pulse events``: the activation bus (segment membership and risk changes)."""

from __future__ import annotations

import json

import click

from scripts.cli import targeted
from scripts.cli.target import Target


@click.group()
def events() -> None:
    """The activation bus: one event per segment membership change and per risk change."""


@events.command(name="tail")
@click.option("--type", "detail_type", type=click.Choice(["segment.membership", "risk.changed"]), help="only these")
@click.option("--segment", help="only this segment's enter and exit events")
@click.option("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
@click.option("--count", type=int, help="stop after this many events")
@targeted
def tail(
    target: Target, detail_type: str | None, segment: str | None, seconds: float | None, count: int | None
) -> None:
    """Print the bus's events as they happen, one JSON object a line (a temporary queue and rule
    subscribe for the time it runs, and are deleted after)."""
    import boto3

    from scripts.events_tail import pattern
    from scripts.events_tail import tail as run

    bus = target.name("bus")
    shown = run(
        boto3.client("events"),
        boto3.client("sqs"),
        bus,
        pattern(detail_type, segment),
        show=lambda e: click.echo(json.dumps({"detail-type": e["detail-type"], "time": e["time"], **e["detail"]})),
        seconds=seconds,
        count=count,
        ready=lambda: click.echo(f"listening on {bus} ({target.describe()}); Ctrl-C stops", err=True),
        only_from_rule=target.deployed,
    )
    click.echo(f"{shown} events", err=True)


COMMANDS = [events]
