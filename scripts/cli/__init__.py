"""``pulse``: the operator's command line, for the local stack and for deployed stacks.

Every command works against the local stack (``pulse up``) by default and against a deployed stack
with ``--stack NAME`` (plus ``--region`` / ``--profile``), using the normal AWS credential chain.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from scripts.cli.target import Target, TargetError, resolve

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


def targeted(command: Callable[..., Any]) -> Callable[..., Any]:
    """Adds --stack/--region/--profile and passes the resolved, applied ``Target`` as ``target``."""

    @click.option("--profile", help="AWS profile of your credentials (with --stack)")
    @click.option("--region", help="AWS region of the stack (default: AWS_REGION, else us-east-1)")
    @click.option("--stack", help="a deployed stack's name (default: the local stack of `pulse up`)")
    @functools.wraps(command)
    def wrapper(stack: str | None, region: str | None, profile: str | None, **kwargs: Any) -> Any:
        try:
            target = resolve(stack, region, profile)
        except TargetError as exc:
            raise click.ClickException(str(exc)) from exc
        target.apply()
        return command(target=target, **kwargs)

    return wrapper


def finish(code: int) -> None:
    """Exit with a command's status (0 returns normally, so tests can call commands in-process)."""
    if code:
        sys.exit(code)


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="pulse", message="pulse %(version)s")
def main() -> None:
    """Pulse: real-time user profiles and recommendations on AWS.

    Start with `pulse up` (the local stack) or `pulse demo`; `pulse COMMAND --help` says more.
    """


def register() -> None:
    from scripts.cli import activation, clients, data, local, models, operate

    for module in (local, models, operate, clients, data, activation):
        for command in module.COMMANDS:
            main.add_command(command)


register()

__all__ = ["Target", "finish", "main", "targeted"]
