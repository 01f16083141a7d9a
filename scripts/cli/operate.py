"""Operating a stack: history onto the stream, dead letters, segment re-evaluation."""

from __future__ import annotations

from typing import Any

import click

from scripts.cli import finish, targeted
from scripts.cli.target import Target


@click.command()
@click.option("--events", required=True, help="the log: JSON Lines (gzip allowed), a directory or s3://bucket/prefix/")
@click.option("--rate", type=float, default=1000.0, show_default=True, help="records per second at most (0: no limit)")
@click.option("--start-line", type=int, default=1, show_default=True, help="resume from this line of the log")
@click.option("--rejects", type=click.Path(dir_okay=False), help="write invalid lines here (JSON Lines with reasons)")
@click.option("--dry-run", is_flag=True, help="validate and count only; put nothing on the stream")
@targeted
def backfill(target: Target, events: str, rate: float, start_line: int, rejects: str | None, dry_run: bool) -> None:
    """Put a historical event log on the stream, so profiles are built from it like live traffic.

    Each line is validated first (invalid ones are counted, listed and never sent); valid lines go out
    byte for byte, keyed by user. If the stream refuses records, it stops and prints the line to
    resume from (--start-line): resume rather than start over.
    """
    from scripts.backfill import main as backfill_main

    argv = ["--events", events, "--stream", target.name("stream"), "--rate", str(rate)]
    argv += ["--start-line", str(start_line)] + (["--rejects", rejects] if rejects else [])
    finish(backfill_main(argv + (["--dry-run"] if dry_run else [])))


@click.command(name="dead-letters")
@click.option("--limit", type=int, help="read at most this many messages")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per letter (the summary on stderr)")
@targeted
def dead_letters(target: Target, limit: int | None, as_json: bool) -> None:
    """List the dead-letter queue (records the updater rejected, batches Lambda gave up on) and a
    count per reason. Changes nothing: the messages are made visible again."""
    from scripts.dead_letters import main as dead_letters_main

    argv = _where(target) + ["list"] + (["--limit", str(limit)] if limit else []) + (["--json"] if as_json else [])
    finish(dead_letters_main(argv))


@click.command(name="replay-dead-letters")
@click.option("--reason", help="only letters whose reason contains this text (case-insensitive)")
@click.option("--dry-run", is_flag=True, help="say what would be replayed; change nothing")
@targeted
def replay_dead_letters(target: Target, reason: str | None, dry_run: bool) -> None:
    """Put dead letters' records back on the stream and delete exactly the letters put back in full.

    Failed batches are read back from the stream by sequence range; a rejected record goes back only
    once it passes the updater's validation.
    """
    from scripts.dead_letters import main as dead_letters_main

    argv = _where(target) + ["replay"] + (["--reason", reason] if reason else []) + (["--dry-run"] if dry_run else [])
    finish(dead_letters_main(argv))


def _where(target: Target) -> list[str]:
    return ["--queue-url", target.name("queue"), "--stream", target.name("stream"), "--region", target.region]


@click.command()
@click.option("--recount-only", is_flag=True, help="only recount each segment's members (no re-evaluation)")
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True, help="parallel parts of the scan")
@click.option("--resume", is_flag=True, help="continue the stopped run from its saved position")
@targeted
def resegment(target: Target, **options: Any) -> None:
    """Re-evaluate every profile's segments at today's clock, then recount every segment's members.

    Run it after changing segment rules; safe while events flow. Stopped (error or Ctrl-C), it saves
    each part's position: --resume continues there.
    """
    from scripts.resegment import main as resegment_main

    argv = ["--workers", str(options["workers"])]
    argv += (["--recount-only"] if options["recount_only"] else []) + (["--resume"] if options["resume"] else [])
    finish(resegment_main(argv))


COMMANDS = [backfill, dead_letters, replay_dead_letters, resegment]
