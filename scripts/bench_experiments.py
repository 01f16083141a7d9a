"""Benchmark of serving under experiments (a script, not a test): ``make bench-experiments``.

- API handler latency p50/p99 in-process (DynamoDB and S3 on moto) with no experiment and with a
  two-arm experiment running (assignment, the variant's page and the exposure's counter writes), in
  alternating rounds of the same run, over the same users;
- the memory one more held model version costs (resident set before and after loading it).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import resource
import time
from typing import Any

os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # before Powertools is imported
import numpy as np

from pulse.recommend.artifacts import build_manifest, load_model
from scripts.bench_api import profiles
from scripts.synthetic_model import synthetic_files


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def latency(items: int, rounds: int, per_round: int, round_trip_ms: float) -> dict[str, list[float]]:
    import boto3

    from infrastructure.functions import LambdaContext
    from infrastructure.inprocess import function_on_moto
    from pulse.adapters.experiment_store import ExperimentItem
    from pulse.adapters.profile_store import DynamoProfileStore
    from pulse.adapters.tables import ProfileRecord
    from pulse.config import get_settings
    from pulse.domain.updater import ProfileState, ProfileUpdate

    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    files, version = synthetic_files(items), "bench-v1"
    samples: dict[str, list[float]] = {"none": [], "experiment, first exposure": [], "experiment, repeat": []}
    exposed: set[str] = set()
    with function_on_moto("ApiFunction") as (spec, handler):
        s3, bucket = boto3.client("s3", region_name="us-east-1"), spec.environment["MODEL_BUCKET"]
        for name, data in files.items():
            s3.put_object(Bucket=bucket, Key=f"models/{version}/{name}", Body=data)
        manifest = json.dumps(build_manifest(version, files)).encode()
        s3.put_object(Bucket=bucket, Key=f"models/{version}/manifest.json", Body=manifest)
        s3.put_object(Bucket=bucket, Key="models/current.json", Body=json.dumps({"version": version}).encode())
        ctx = LambdaContext.for_spec(spec)
        store = DynamoProfileStore(get_settings())
        if round_trip_ms:  # DynamoDB's round trip on AWS, a wait that releases the GIL (moto's is CPU)
            for cls, name in ((ProfileRecord, "get"), (ExperimentItem, "update")):
                original = getattr(cls, name)

                def waiting(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                    time.sleep(round_trip_ms / 1000)
                    return _original(*args, **kwargs)

                setattr(cls, name, waiting)
        model = load_model(version, manifest, files)
        users = 200
        for n, profile in enumerate(profiles(model, users, 60)):
            profile.user_id = f"user-{n}"
            store.save(ProfileUpdate(ProfileState(profile=profile), applied=1), expected_version=None)

        def call(method: str, path: str, resource_path: str, params: dict[str, str], body: Any = None) -> Any:
            event = {
                "resource": resource_path,
                "path": path,
                "httpMethod": method,
                "headers": {"Content-Type": "application/json"},
                "queryStringParameters": {"k": "10"} if method == "GET" else None,
                "pathParameters": params,
                "requestContext": {"requestId": "r", "stage": "prod"},
                "body": json.dumps(body) if body is not None else None,
                "isBase64Encoded": False,
            }
            with contextlib.redirect_stdout(io.StringIO()):  # the metrics' log lines
                out = handler(event, ctx)
            assert out["statusCode"] in (200, 201), out
            return json.loads(out["body"])

        arms = [{"name": n, "weight": 1, "serve": {"strategy": "default"}} for n in ("a", "b")]
        experiment = {"variants": arms}
        exp_path = ("/experiments/bench", "/experiments/{experiment_id}", {"experiment_id": "bench"})
        call("GET", "/users/user-0/recommendations", "/users/{user_id}/recommendations", {"user_id": "user-0"})
        n = 0
        for r in range(rounds):
            for mode in ("none", "experiment") if r % 2 == 0 else ("experiment", "none"):
                status = "running" if mode == "experiment" else "stopped"
                call("PUT", *exp_path, body=experiment | {"status": status})
                for _ in range(per_round):
                    user = f"user-{n % users}"
                    n += 1
                    started = time.perf_counter()
                    body = call(
                        "GET", f"/users/{user}/recommendations", "/users/{user_id}/recommendations", {"user_id": user}
                    )
                    elapsed = time.perf_counter() - started
                    if mode == "none":
                        samples[mode].append(elapsed)
                    else:
                        kind = "repeat" if user in exposed else "first exposure"
                        samples[f"experiment, {kind}"].append(elapsed)
                        exposed.add(user)
                    assert ("experiment" in body) == (mode == "experiment"), body
    return samples


def version_memory(items: int) -> tuple[float, float]:
    """(MB of files, MB of resident memory) of one more model version held: its files as downloaded
    (the arrays are read in place from them) and what loading derives from them."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        files = synthetic_files(items)
        for name, data in files.items():
            (Path(folder) / name).write_bytes(data)
        manifest = json.dumps(build_manifest("m", files)).encode()
        disk = sum(len(b) for b in files.values()) / 2**20
        del files
        gc.collect()
        before = rss_mb()
        read = {p.name: p.read_bytes() for p in Path(folder).iterdir()}
        model = load_model("m", manifest, read)
        gc.collect()
        held = rss_mb() - before
        del model, read
    return disk, held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--per-round", type=int, default=100)
    parser.add_argument("--round-trip-ms", type=float, default=5.0, help="the second pass's DynamoDB round trip")
    args = parser.parse_args()
    print(f"API handler on moto, {args.items:,} items, {args.rounds} alternating rounds of {args.per_round}:")
    for round_trip in (0.0, args.round_trip_ms):
        samples = latency(args.items, args.rounds, args.per_round, round_trip)
        for mode, values in samples.items():
            p50, p99 = np.percentile(np.asarray(values) * 1000, [50, 99])
            wait = f"+{round_trip:g} ms a DynamoDB call" if round_trip else "moto only"
            print(f"  {wait:22} {mode:27} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  (n = {len(values)})")
    for items in (10_000, 100_000):
        disk, held = version_memory(items)
        print(
            f"one more held version, {items:,} items (full top-100 lists): {disk:.0f} MB files, {held:.0f} MB resident"
        )


if __name__ == "__main__":
    main()
