"""Data to try Pulse with: a synthetic shop, and MovieLens-100K."""

from __future__ import annotations

from pathlib import Path

import click

from scripts.cli import finish


@click.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".cache/synthetic/events.jsonl.gz"),
    show_default=True,
    help="where to write the log",
)
@click.option("--events", type=int, default=200_000, show_default=True, help="how many events")
@click.option("--users", type=int, default=10_000, show_default=True, help="how many shoppers")
@click.option("--items", type=int, default=5_000, show_default=True, help="how many products")
@click.option("--seed", type=int, default=0, show_default=True, help="random seed (the same seed, the same log)")
def synthetic(out: Path, events: int, users: int, items: int, seed: int) -> None:
    """Write a synthetic e-commerce event log (JSON Lines, gzip): shoppers with tastes, sessions,
    carts, purchases, ads and a few bots. Prints where it is."""
    from training.synthetic import main as synthetic_main

    argv = ["--out", str(out), "--events", str(events), "--users", str(users), "--items", str(items)]
    finish(synthetic_main([*argv, "--seed", str(seed)]))


@click.command()
def movielens() -> None:
    """Fetch MovieLens-100K (cached in .cache/, SHA-256 verified), convert it to events in the
    contract's format and print the log's path (use it as --events)."""
    from training.movielens import event_log

    click.echo(str(event_log()))


COMMANDS = [synthetic, movielens]
