"""Benchmark of the recommendation path (a script, not a test): ``make bench-api``.

For a synthetic 100,000-item model and for the MovieLens model it reports:
- scoring latency p50/p99 (the served ``Scorer.recommend`` on realistic profiles, no I/O);
- handler latency p50/p99 in-process with DynamoDB on moto (reported separately: moto is not DynamoDB);
- cold start: a fresh process importing the API handler and loading + verifying the model;
- peak memory of that process; artefact size.
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
from pulse.domain.events import parse_event
from pulse.domain.updater import PositionedEvent, apply_user_events
from pulse.recommend.artifacts import build_manifest, load_model, npz_bytes
from pulse.recommend.ranker import FEATURES
from pulse.recommend.scorer import Scorer


def synthetic_files(n_items: int, neighbors: int = 50, seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    cats = [f"cat{int(c)}" for c in rng.integers(0, 200, n_items)]
    pop = (rng.pareto(1.2, n_items) + 1).astype(np.float32)
    pop /= pop.max()
    idx = rng.integers(0, n_items, (n_items, neighbors)).astype(np.int32)
    w = np.sort(rng.random((n_items, neighbors)).astype(np.float32), axis=1)[:, ::-1].copy()
    tidx = rng.integers(0, n_items, (n_items, neighbors)).astype(np.int32)
    tw = np.sort(rng.random((n_items, neighbors)).astype(np.float32), axis=1)[:, ::-1].copy()
    segments = ["age_under_25", "age_25_34", "age_35_49", "age_50_plus"]
    seg = rng.random((len(segments), n_items)).astype(np.float32)
    catalog = {
        "item_ids": [f"sku-{i}" for i in range(n_items)],
        "metadata": [{"title": f"Item {i}", "category": [c]} for i, c in enumerate(cats)],
        "categories": [[c] for c in cats],
        "available": [True] * n_items,
        "segments": segments,
    }
    weights = {
        "nbr_recent": 0.5,
        "nbr_affinity": 0.1,
        "transition": 0.3,
        "log_pop": 0.1,
        "trending": 0.05,
        "segment_pop": 0.1,
        "category_affinity": 0.2,
        "negative": -0.1,
        "nbr_recent_rel": 0.5,
        "transition_rel": 0.2,
        "nbr_history": 0.2,
    }
    coef = [weights.get(f, 0.0) for f in FEATURES]
    ranker = {
        "features": list(FEATURES),
        "coef": coef,
        "intercept": 0.0,
        "mean": [0.0] * len(FEATURES),
        "std": [1.0] * len(FEATURES),
        "cold_start": "global",
        "diversity_cap": 0.4,
        # what training chose on MovieLens: 30 recent items feed neighbours and transitions
        "params": {"recency_decay": 0.8, "recent_items": 30, "transition_decay": 0.95, "transition_items": 30},
    }
    return {
        "catalog.json": json.dumps(catalog).encode(),
        "ranker.json": json.dumps(ranker).encode(),
        "neighbors.npz": npz_bytes(idx=idx, w=w),
        "transitions.npz": npz_bytes(idx=tidx, w=tw),
        "popularity.npz": npz_bytes(**{"global": pop, "trending": pop[::-1].copy(), "segments": seg}),
    }


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


def scoring(model: Any, requests: int) -> str:
    scorer = Scorer(model)
    users = [p for length in (1, 10, 100, 300, 1000) for p in profiles(model, 10, length, seed=length)]
    for p in users[:5]:
        scorer.recommend(p, k=10)  # warm-up
    samples = []
    for n in range(requests):
        started = time.perf_counter()
        scorer.recommend(users[n % len(users)], k=10, explain=n % 2 == 0)
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


COLD_START = """
import json, os, sys, time
t0 = time.perf_counter()
import importlib.util
spec = importlib.util.spec_from_file_location("api_app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)  # the real handler: its imports, and the model read from S3 during init
seconds = time.perf_counter() - t0
version = module.dependencies().holder.version
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS"))
print(json.dumps({"seconds": seconds, "peak_mb": rss / 1024, "version": version}))
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
            AWS_LAMBDA_FUNCTION_NAME="bench-api",
            AWS_ENDPOINT_URL=endpoint,
            AWS_REGION="us-east-1",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106  # moto accepts any key
            MODEL_BUCKET=bucket,
        )
        app = str(ROOT / "functions" / "api" / "app.py")
        runs = []
        for _ in range(3):
            done = subprocess.run(
                [sys.executable, "-c", COLD_START, app], env=env, check=True, capture_output=True, text=True
            )
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        assert all(r["version"] == version for r in runs), runs  # the model was loaded during init
    finally:
        server.stop()
    return {"seconds": float(np.median([r["seconds"] for r in runs])), "peak_mb": max(r["peak_mb"] for r in runs)}


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
        samples = []
        for n in range(requests):
            started = time.perf_counter()
            call(f"user-{n % 20}")
            samples.append(time.perf_counter() - started)
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases: list[tuple[str, dict[str, bytes]]] = [
            (f"synthetic {args.items:,} items, top-100 lists", synthetic_files(args.items, neighbors=100))
        ]
        ml = ROOT / ".cache" / "models" / "movielens"
        if not ml.exists():
            from training.eventlog import read_events
            from training.movielens import event_log
            from training.train import train

            events, _ = read_events(str(event_log()))
            result = train(events, say=lambda _: None)
            ml.mkdir(parents=True, exist_ok=True)
            for name, data in result.files.items():
                (ml / name).write_bytes(data)
        cases.append(("MovieLens-100K", {p.name: p.read_bytes() for p in ml.iterdir()}))
        for label, files in cases:
            folder = write_version(Path(tmp), "bench-" + label.split()[0].lower(), files)
            model = load_model(folder.name, (folder / "manifest.json").read_bytes(), files)
            size = sum(len(d) for d in files.values()) / 1e6
            cold = cold_start(files, folder.name)
            print(f"{label}: artefacts {size:.1f} MB")
            print(f"  scoring (Scorer.recommend, no I/O, 1-1,000 events): {scoring(model, args.requests)}")
            print(f"  handler in-process, DynamoDB on moto: {handler_latency(files, folder.name, args.requests // 2)}")
            print(
                f"  cold start (real handler import + model from S3 on moto): {cold['seconds']:.2f} s, memory "
                f"{cold['peak_mb']:.0f} MB"
            )
            sys.stdout.flush()
    print(f"bench process peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
