"""Model versions: train, evaluate, list, promote, roll back."""

from __future__ import annotations

import json
from typing import Any

import click

from scripts.cli import finish, targeted
from scripts.cli.target import Target
from training.__main__ import s3_client


def _bucket(target: Target, bucket: str | None) -> str:
    return bucket or target.name("bucket")


@click.command(context_settings={"max_content_width": 110})
@click.option(
    "--events", required=True, help="event log: JSON Lines (gzip allowed), a directory or s3://bucket/prefix/"
)
@click.option("--bucket", help="model bucket (default: the stack's ModelBucketName)")
@click.option("--no-publish", is_flag=True, help="train and evaluate only; publish nothing")
@click.option("--promote", "promote_it", is_flag=True, help="serve the new version (through the promotion gate)")
@click.option("--force", is_flag=True, help="promote even if the gate refuses (recorded in the pointer)")
@click.option("--catalog", type=click.Path(exists=True, dir_okay=False), help="item catalogue, JSON Lines")
@click.option("--eval-users", type=int, help="evaluate on a sample of this many users (large logs)")
@click.option("--seed", type=int, default=0, show_default=True, help="random seed of sampling and the ranker")
@click.option(
    "--gate-margin",
    type=float,
    default=0.0,
    show_default=True,
    help="how much better than the served version a candidate must be on the same held-out items (0.02: 2 %)",
)
@click.option("--out", type=click.Path(file_okay=False), help="also write the files and metrics to this folder")
@targeted
def train(target: Target, events: str, bucket: str | None, no_publish: bool, **options: Any) -> None:
    """Train on an event log, evaluate, publish a model version (and promote it with --promote).

    Uses the stack's half-life (DECAY_HALF_LIFE_DAYS) and the same scorer the API serves; the version's
    manifest records its offline figures and the baselines'.
    """
    from training.__main__ import main as training_main

    argv = ["train", "--events", events]
    argv += ["--no-publish"] if no_publish else ["--bucket", _bucket(target, bucket)]
    argv += ["--promote"] if options["promote_it"] else []
    argv += ["--force"] if options["force"] else []
    for name in ("catalog", "eval_users", "out"):
        if options[name] is not None:
            argv += [f"--{name.replace('_', '-')}", str(options[name])]
    argv += ["--seed", str(options["seed"]), "--gate-margin", str(options["gate_margin"])]
    finish(training_main(argv))


@click.command()
@click.option("--events", required=True, help="event log (as for train)")
@click.option("--out", default="reports/evaluation", show_default=True, help="report folder")
@click.option("--sample", type=int, help="replay only this many events in protocol B")
def evaluate(events: str, out: str, sample: int | None) -> None:
    """Protocols A and B on an event log, with charts and a report; publishes nothing."""
    from training.__main__ import main as training_main

    argv = ["evaluate", "--events", events, "--out", out]
    finish(training_main(argv + (["--sample", str(sample)] if sample else [])))


@click.command()
@click.option("--bucket", help="model bucket (default: the stack's)")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per version")
@targeted
def models(target: Target, bucket: str | None, as_json: bool) -> None:
    """List model versions with their offline figures and the gate's decision; * marks the one served."""
    from training.publish import list_versions, read_pointer, version_summary

    s3, name = s3_client(), _bucket(target, bucket)
    served = (read_pointer(s3, name) or {}).get("version")
    versions = list_versions(s3, name)
    if not versions:
        click.echo(f"no model version in s3://{name}/models/ yet: train one with `pulse train --events <log>`")
    for version in versions:
        row = version_summary(s3, name, version) | {"serving": version == served}
        if as_json:
            click.echo(json.dumps(row))
            continue
        figures = row.get("test") or {}
        shown = " ".join(f"{k} {v:.4f}" for k, v in figures.items() if isinstance(v, float))
        gate = row["gate"] if isinstance(row.get("gate"), dict) else None
        verdict = f"  gate: {'passed' if gate.get('promote') else 'REFUSED'}" if gate else ""
        click.echo(
            f"{'*' if row['serving'] else ' '} {version:34} {row.get('events', '?'):>10} events  {shown}{verdict}"
        )
        if gate:
            click.echo(f"    {gate.get('reason')}")
    from training.runs import last_run

    run = last_run(s3, name)
    if run and not as_json:
        click.echo(f"last retraining: {run['run_id']} ({run['trigger']}) {run['status']}: {run['reason']}")


@click.command()
@click.argument("version")
@click.option("--bucket", help="model bucket (default: the stack's)")
@click.option("--force", is_flag=True, help="serve it even if the gate refuses")
@targeted
def promote(target: Target, version: str, bucket: str | None, force: bool) -> None:
    """Serve VERSION: verified, then through the gate (the training gate's decision; for a version
    published before the gate, at most 5 % below the served NDCG@10).

    Running API functions pick it up within MODEL_REFRESH_SECONDS.
    """
    from training.publish import PromotionRefused
    from training.publish import promote as promote_version

    try:
        click.echo(json.dumps(promote_version(s3_client(), _bucket(target, bucket), version, force=force)))
    except PromotionRefused as exc:
        raise click.ClickException(f"refused: {exc}") from exc


@click.command()
@click.option("--bucket", help="model bucket (default: the stack's)")
@targeted
def rollback(target: Target, bucket: str | None) -> None:
    """Serve the previously served version again."""
    from training.publish import PromotionRefused
    from training.publish import rollback as roll_back

    try:
        click.echo(json.dumps(roll_back(s3_client(), _bucket(target, bucket))))
    except PromotionRefused as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@click.option("--window-days", type=float, help="days of the archive to read (default: the stack's TrainingWindowDays)")
@click.option("--max-events", type=int, help="train on at most this many of the newest events (default: the stack's)")
@click.option("--margin", type=float, help="the gate's margin over the served version (default: the stack's)")
@targeted
def retrain(target: Target, window_days: float | None, max_events: int | None, margin: float | None) -> None:
    """Run the trainer function now: it retrains on the archive's recent window, publishes the version and
    promotes it only through the gate. Prints the run's record (status, reason, gate figures)."""
    request = {"window_days": window_days, "max_events": max_events, "margin": margin}
    event = {k: v for k, v in request.items() if v is not None}
    if target.deployed:
        record = _invoke_deployed(target, event)
    else:
        from scripts.cli.local import invoke_function

        record = invoke_function("TrainerFunction", event)
    click.echo(describe_run(record))
    if record.get("status") in ("failed", "rejected"):
        raise click.ClickException(f"retraining {record.get('status')}: {record.get('reason')}")


def _invoke_deployed(target: Target, event: dict[str, Any]) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    lam = boto3.client("lambda", config=Config(read_timeout=960, retries={"max_attempts": 0}))
    answer = lam.invoke(FunctionName=target.name("trainer"), Payload=json.dumps(event).encode())
    payload: dict[str, Any] = json.loads(answer["Payload"].read() or b"{}")
    if answer.get("FunctionError"):
        return {"status": "failed", "reason": payload.get("errorMessage", answer["FunctionError"])}
    return payload


def describe_run(record: dict[str, Any]) -> str:
    """A run's record in a few lines: what it read, what the gate decided and why."""
    lines = [f"{record.get('status')}: {record.get('reason')}"]
    window = record.get("window") or {}
    if "events" in window:
        cut = "; the newest only: the ceiling" if window.get("truncated") else ""
        lines.append(
            f"  read {window['events']:,} events from {window.get('files_read')} of {window.get('files')} archived "
            f"files (last {window.get('days')} days){cut}"
        )
    figures = (record.get("gate") or {}).get("figures") or {}
    if figures:
        lines.append("  NDCG@10 " + ", ".join(f"{name} {value:.4f}" for name, value in figures.items()))
    if record.get("version"):
        lines.append(f"  version {record['version']}; serving {record.get('served_after') or 'no model'}")
    return "\n".join(lines)


COMMANDS = [train, evaluate, models, promote, rollback, retrain]
