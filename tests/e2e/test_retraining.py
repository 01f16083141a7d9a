"""Retraining on the local stack: the trainer's schedule fires on the archive, `pulse retrain` on demand."""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

import requests

from tests.e2e.conftest import running_stack
from tests.e2e.test_cli_local import PULSE
from tests.modelkit import synthetic_events


def _latest_run(s3: Any, bucket: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads(s3.get_object(Bucket=bucket, Key="training-runs/latest.json")["Body"].read()))
    except s3.exceptions.NoSuchKey:
        return None


def test_the_schedule_retrains_on_the_archive_and_pulse_retrain_runs_it_on_demand(tmp_path) -> None:
    state = tmp_path / "stack.json"
    with running_stack(state_file=state, training_seconds=3.0) as stack:
        s3, bucket = stack.client("s3"), stack.outputs()["ModelBucketName"]
        # Given a shop's events put on the stream (the archive writes them to events/ within a second)
        events = synthetic_events(users=60, seed=1)
        kinesis, stream = stack.client("kinesis"), stack.outputs()["EventStreamName"]
        for start in range(0, len(events), 500):
            records = [{"Data": e.to_json().encode(), "PartitionKey": e.user_id} for e in events[start : start + 500]]
            assert kinesis.put_records(StreamName=stream, Records=records)["FailedRecordCount"] == 0
        # When the trainer's schedule fires (every 3 s here; daily on AWS)
        deadline, run = time.monotonic() + 120, None
        while time.monotonic() < deadline:
            run = _latest_run(s3, bucket)
            if run and run["status"] != "skipped":
                break
            time.sleep(0.5)
        # Then it trained on the archived events, and its model serves
        assert run is not None and run["trigger"] == "schedule" and run["status"] == "promoted", run
        assert run["window"]["events"] == len(events)
        deadline = time.monotonic() + 60
        while requests.get(f"{stack.api_url}/health", timeout=60).json()["model_version"] != run["version"]:
            assert time.monotonic() < deadline, "the promoted version never served"
            time.sleep(0.5)
        # And `pulse retrain` runs it now: no held-out interaction is newer than the served version's
        # data (the same events), so nothing shows a new model is better: refused, the old one serves
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {"PULSE_LOCAL_STATE": str(state)}
        done = subprocess.run([PULSE, "retrain"], env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.startswith("refused:") and "NDCG@10 candidate" in done.stdout, done.stdout
        assert f"serving {run['version']}" in done.stdout and "is newer than the served" in done.stdout
        from training.runs import recent_runs

        demanded = [r for r in recent_runs(s3, bucket, limit=50) if r["trigger"] == "on demand"]
        assert len(demanded) == 1 and demanded[0]["status"] == "refused" and demanded[0]["version"] != run["version"]
        # and the schedule, which keeps firing, never retrains on the same archive again
        later = [r for r in recent_runs(s3, bucket, limit=50) if r["trigger"] == "schedule" and r["version"]]
        assert [r["version"] for r in later] == [run["version"]]
