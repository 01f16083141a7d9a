"""Benchmark of the recommendation path (a script, not a test): ``make bench-api [SIZES=...]``.

For synthetic models of 10k, 100k and 1M items with the top-100 lists training ships (every list full:
the worst case; and at 1M also the lists a model trained on 5M events has) and for the MovieLens model:
- artefact size (format 2: CSR lists, float16 weights);
- scoring latency p50/p99 (the served ``Scorer.recommend``, profile in hand, no I/O) over a mix of
  profiles of 1, 10, 100, 300 and 1,000 events, without and with explanations, and for the heavy
  profiles (1,000 events) with explanations alone;
- handler latency p50/p99 in-process with DynamoDB on moto (up to 100k items; moto is not DynamoDB),
  the heap frozen after the first request as the function freezes it (``pulse.heap``);
- cold start: a fresh process running the real API handler's init as Lambda does (its imports, the
  promoted model read from a moto server's S3, the local stack's, while it imports, verified and
  decoded); apart, in a process that imports first and loads on its first call; resident memory after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from infrastructure.template import ROOT
from pulse import heap
from pulse.domain.events import parse_event
from pulse.domain.updater import PositionedEvent, apply_user_events
from pulse.recommend.artifacts import build_manifest, load_model
from pulse.recommend.scorer import Scorer
from scripts.synthetic_model import synthetic_files, trained_lengths


def write_version(folder: Path, version: str, files: dict[str, bytes]) -> Path:
    out = folder / version
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    (out / "manifest.json").write_text(json.dumps(build_manifest(version, files)))
    return out


def profiles(model: Any, count: int, events_each: int, seed: int = 1) -> list[Any]:
    rng = np.random.default_rng(seed)
    out = []
    now = time.time()
    for u in range(count):
        items = rng.integers(0, model.n_items, events_each)
        evs = [
            parse_event(
                {
                    "event_id": f"{u}-{k}",
                    "event_type": "view" if k % 3 else "purchase",
                    "user_id": f"u{u}",
                    "timestamp": now - 3600 + k,
                    "item_id": model.item_ids[int(i)],
                    "value": 10.0,
                    "item": {"category": model.categories[int(i)]},
                },
                now=now,
            )
            for k, i in enumerate(items)
        ]
        out.append(apply_user_events(None, f"u{u}", [PositionedEvent(e) for e in evs], now, 14).state.profile)
    return out


def percentiles(samples: list[float]) -> str:
    p50, p99 = np.percentile(np.asarray(samples) * 1000, [50, 99])
    return f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"


def scoring(model: Any, requests: int) -> dict[str, str]:
    scorer = Scorer(model)
    users = {length: profiles(model, 10, length, seed=length) for length in (1, 10, 100, 300, 1000)}
    mixed = [p for group in users.values() for p in group]
    for p in mixed[::10]:
        scorer.recommend(p, k=10, explain=True)  # warm-up

    def timed(group: list[Any], explain: bool) -> str:
        samples = []
        for n in range(requests):
            started = time.perf_counter()
            scorer.recommend(group[n % len(group)], k=10, explain=explain)
            samples.append(time.perf_counter() - started)
        return percentiles(samples)

    return {
        "mixed 1-1,000 events": timed(mixed, False),
        "mixed, explained": timed(mixed, True),
        "1,000 events, explained": timed(users[1000], True),
    }


COLD_START = """
import json, os, sys, time
t0 = time.perf_counter()
import importlib.util
spec = importlib.util.spec_from_file_location("api_app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)  # the real handler's init: its imports (and in Lambda, the model)
t1 = time.perf_counter()
version = module.dependencies().holder.current().model.version  # outside Lambda: the first request's load
t2 = time.perf_counter()
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS"))
print(json.dumps({"init": t1 - t0, "after": t2 - t1, "peak_mb": rss / 1024, "version": version}))
"""


def cold_start(files: dict[str, bytes], version: str) -> dict[str, float]:
    """A fresh process imports the API handler as Lambda does, with the model promoted in a moto
    server's bucket (the local stack's S3): imports plus the model's download, checks and decoding."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=5399, verbose=False)
    server.start()
    try:
        endpoint, bucket = "http://127.0.0.1:5399", "bench-cold-start"
        s3 = boto3.client(
            "s3",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106  # moto accepts any key
        )
        s3.create_bucket(Bucket=bucket)
        for name, data in files.items():
            s3.put_object(Bucket=bucket, Key=f"models/{version}/{name}", Body=data)
        manifest = json.dumps(build_manifest(version, files)).encode()
        s3.put_object(Bucket=bucket, Key=f"models/{version}/manifest.json", Body=manifest)
        s3.put_object(Bucket=bucket, Key="models/current.json", Body=json.dumps({"version": version}).encode())
        env = dict(
            os.environ,
            PYTHONPATH=f"{ROOT / 'layers' / 'core'}{os.pathsep}{ROOT}",
            POWERTOOLS_TRACE_DISABLED="1",
            POWERTOOLS_LOG_LEVEL="ERROR",
            AWS_ENDPOINT_URL=endpoint,
            AWS_REGION="us-east-1",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106  # moto accepts any key
            MODEL_BUCKET=bucket,
        )
        app = str(ROOT / "functions" / "api" / "app.py")
        runs: dict[str, list[dict[str, Any]]] = {"lambda": [], "split": []}
        for _ in range(3):
            for kind, extra in (("lambda", {"AWS_LAMBDA_FUNCTION_NAME": "bench-api"}), ("split", {})):
                done = subprocess.run(
                    [sys.executable, "-c", COLD_START, app], env=env | extra, check=True, capture_output=True, text=True
                )
                runs[kind].append(json.loads(done.stdout.strip().splitlines()[-1]))
        assert all(r["version"] == version for rs in runs.values() for r in rs), runs
    finally:
        server.stop()
    # in Lambda (the headline), init downloads the model while it imports and loads it before any
    # request; "split" imports first and loads on the first call: the two parts apart
    seconds = float(np.median([r["init"] + r["after"] for r in runs["lambda"]]))
    imports, load = (float(np.median([r[key] for r in runs["split"]])) for key in ("init", "after"))
    peak = max(r["peak_mb"] for rs in runs.values() for r in rs)
    return {"seconds": seconds, "imports": imports, "load": load, "peak_mb": peak}


def handler_latency(files: dict[str, bytes], version: str, requests: int) -> str:
    """The API handler in-process, DynamoDB and S3 on moto (moto's latency is included here)."""
    import boto3

    from infrastructure.functions import LambdaContext
    from infrastructure.inprocess import function_on_moto
    from pulse.config import get_settings

    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    with function_on_moto("ApiFunction") as (spec, handler):
        s3 = boto3.client("s3", region_name="us-east-1")
        bucket = spec.environment["MODEL_BUCKET"]
        for name, data in files.items():
            s3.put_object(Bucket=bucket, Key=f"models/{version}/{name}", Body=data)
        s3.put_object(
            Bucket=bucket,
            Key=f"models/{version}/manifest.json",
            Body=json.dumps(build_manifest(version, files)).encode(),
        )
        s3.put_object(Bucket=bucket, Key="models/current.json", Body=json.dumps({"version": version}).encode())
        ctx = LambdaContext.for_spec(spec)
        from pulse.adapters.profile_store import DynamoProfileStore
        from pulse.domain.updater import ProfileState, ProfileUpdate

        store = DynamoProfileStore(get_settings())
        model = load_model(version, json.dumps(build_manifest(version, files)).encode(), files)
        for n, profile in enumerate(profiles(model, 20, 60)):
            profile.user_id = f"user-{n}"
            store.save(ProfileUpdate(ProfileState(profile=profile), applied=1), expected_version=None)

        def call(user: str) -> None:
            event = {
                "resource": "/users/{user_id}/recommendations",
                "path": f"/users/{user}/recommendations",
                "httpMethod": "GET",
                "headers": {},
                "queryStringParameters": {"k": "10"},
                "pathParameters": {"user_id": user},
                "requestContext": {"requestId": "r", "stage": "prod"},
                "body": None,
                "isBase64Encoded": False,
            }
            out = handler(event, ctx)
            assert out["statusCode"] == 200, out

        call("warm-up")
        heap.settle(force=True)  # as the function does once its dependencies are built (pulse.heap)
        samples = []
        for n in range(requests):
            started = time.perf_counter()
            call(f"user-{n % 20}")
            samples.append(time.perf_counter() - started)
    return percentiles(samples)


def cases(sizes: list[int]) -> list[tuple[str, dict[str, bytes]]]:
    out = [(f"synthetic {n:,} items, full top-100 lists", synthetic_files(n)) for n in sizes]
    if 1_000_000 in sizes:
        trained = trained_lengths(1_000_000, 5_000_000)
        out.append(
            ("synthetic 1,000,000 items, lists as trained on 5M events", synthetic_files(1_000_000, lengths=trained))
        )
    ml = ROOT / ".cache" / "models" / "movielens-v2"
    if not ml.exists():
        from training.eventlog import read_events
        from training.movielens import event_log
        from training.train import train

        events, _ = read_events(str(event_log()))
        result = train(events, say=lambda _: None)
        ml.mkdir(parents=True, exist_ok=True)
        for name, data in result.files.items():
            (ml / name).write_bytes(data)
    return [*out, ("MovieLens-100K", {p.name: p.read_bytes() for p in ml.iterdir()})]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="synthetic catalogue sizes")
    parser.add_argument("--requests", type=int, default=300, help="pages timed per figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for number, (label, files) in enumerate(cases([int(n) for n in args.sizes.split(",") if n])):
            folder = write_version(Path(tmp), f"bench-{number}", files)
            model = load_model(folder.name, (folder / "manifest.json").read_bytes(), files)
            print(f"{label}: artefacts {sum(len(d) for d in files.values()) / 1e6:.1f} MB", flush=True)
            for name, figure in scoring(model, args.requests).items():
                print(f"  scoring, {name:24} {figure}", flush=True)
            if model.n_items <= 100_000:
                handler = handler_latency(files, folder.name, args.requests // 2)
                print(f"  handler in-process, DynamoDB on moto: {handler}", flush=True)
            del model
            cold = cold_start(files, folder.name)
            print(
                f"  cold start (real handler's init + model from S3 on moto): {cold['seconds']:.2f} s "
                f"(apart: imports {cold['imports']:.2f} s, model {cold['load']:.2f} s), RSS {cold['peak_mb']:.0f} MB",
                flush=True,
            )
    print(f"bench process peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
