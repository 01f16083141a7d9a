"""``python -m training``: train / promote / rollback / list (``make train EVENTS=... [BUCKET=...] [PROMOTE=1]``).

Talks to whichever AWS endpoint the standard environment names (``AWS_ENDPOINT_URL`` for the local
stack). The default bucket is the local stack's model bucket.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

LOCAL_BUCKET = "pulse-local-modelbucket"


def s3_client() -> Any:
    import boto3

    return boto3.client(
        "s3", region_name=os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    )


def read_catalog(path: str | None) -> dict[str, dict[str, Any]] | None:
    """Optional catalog: JSON Lines of ``{"item_id": ..., "category": ..., "brand": ..., "price": ...,
    "title": ..., "available": true}``."""
    if not path:
        return None
    out = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            out[str(row.pop("item_id"))] = row
    return out


def cmd_train(args: argparse.Namespace) -> int:
    from training.eventlog import read_table
    from training.gate import Gate
    from training.publish import new_version, promote, publish, served_model_or_none
    from training.train import manifest_for, train

    s3 = s3_client()
    table, errors = read_table(args.events, s3=s3 if args.events.startswith("s3://") else None)
    first = "; ".join(f"line {n}: {reason}" for n, reason in errors[:3])
    if table.n_events == 0:
        raise ValueError(
            f"{args.events} holds no valid event: the log is JSON Lines, one event object per line, in the "
            f"format of the README's Events section ({len(errors)} invalid lines; {first or 'the log is empty'})"
        )
    print(f"read {table.n_events} events from {args.events}; {len(errors)} invalid lines skipped", end="")
    print(f" ({first}{'; ...' if len(errors) > 3 else ''})" if errors else "")
    gate = Gate(served_model_or_none(s3, args.bucket, print), args.gate_margin) if args.bucket else None
    result = train(
        table,
        catalog=read_catalog(args.catalog),
        eval_users=args.eval_users,
        seed=args.seed,
        gate=gate,
        dense_max_items=args.dense_max_items,
    )
    version = new_version(result.files)
    manifest = manifest_for(version, result)
    if args.out:
        out = Path(args.out) / version
        out.mkdir(parents=True, exist_ok=True)
        for name, data in result.files.items():
            (out / name).write_bytes(data)
        (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
        (out / "metrics.json").write_text(json.dumps(result.metrics, indent=1))
        print(f"wrote {out}")
    if args.bucket:
        publish(s3, args.bucket, version, result.files, manifest)
        print(f"published s3://{args.bucket}/models/{version}/")
        decision = manifest.get("gate", {})
        if args.promote and (decision.get("promote") or args.force):
            pointer = promote(s3, args.bucket, version, force=args.force and not decision.get("promote"))
            print(f"promoted {pointer['version']}{' (forced past the gate)' if pointer.get('forced') else ''}")
        elif args.promote:
            print(f"refused: {version} is published but not served ({decision.get('reason')}); FORCE=1 serves it")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from training.eventlog import read_events
    from training.report import evaluate

    events, _ = read_events(args.events, s3=s3_client() if args.events.startswith("s3://") else None)
    evaluate(events, Path(args.out), sample=args.sample)
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from training.publish import promote

    print(json.dumps(promote(s3_client(), args.bucket, args.version, force=args.force)))
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from training.publish import rollback

    print(json.dumps(rollback(s3_client(), args.bucket)))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from training.publish import list_versions, read_pointer

    pointer = read_pointer(s3_client(), args.bucket) or {}
    for version in list_versions(s3_client(), args.bucket):
        print(("* " if version == pointer.get("version") else "  ") + version)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train, evaluate and publish a model version")
    t.add_argument(
        "--events",
        required=True,
        help="JSON Lines event log (gzip allowed): a file or a directory, local or s3:// (a prefix ends in /)",
    )
    t.add_argument("--bucket", default=os.environ.get("MODEL_BUCKET", LOCAL_BUCKET))
    t.add_argument("--no-publish", dest="bucket", action="store_const", const=None)
    t.add_argument("--promote", action="store_true")
    t.add_argument("--force", action="store_true", help="promote even if the gate refuses")
    t.add_argument(
        "--gate-margin",
        type=float,
        default=float(os.environ.get("GATE_MARGIN", "0")),
        help="how much better than the served version a candidate must be (0.02: 2 %%)",
    )
    t.add_argument("--catalog", help="optional item catalog (JSON Lines)")
    t.add_argument("--eval-users", type=int, default=None, help="evaluate on a sample of users")
    t.add_argument(
        "--dense-max-items", type=int, default=20_000, help="dense item models up to this many items, sparse above"
    )
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", help="also write the artefacts and metrics to this folder")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("evaluate", help="protocols A and B with baselines; Markdown + PNG + JSON report")
    e.add_argument("--events", required=True)
    e.add_argument("--out", default="reports/evaluation")
    e.add_argument("--sample", type=int, default=None, help="replay only this many events in protocol B")
    e.set_defaults(func=cmd_evaluate)
    for name, func, helptext in (
        ("promote", cmd_promote, "serve a published version"),
        ("rollback", cmd_rollback, "serve the previously promoted version"),
        ("list", cmd_list, "list versions (* = served)"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--bucket", default=os.environ.get("MODEL_BUCKET", LOCAL_BUCKET))
        if name == "promote":
            p.add_argument("version")
            p.add_argument("--force", action="store_true")
        p.set_defaults(func=func)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except Exception as exc:  # noqa: BLE001  # a CLI: one clear line, non-zero exit
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
