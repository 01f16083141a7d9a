"""The trainer function on moto: the archive's window, the gate, the ceiling, failures and their records."""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import AwsStack
from tests.modelkit import shop_log
from training.retrain import RetrainSettings, RunFailed, retrain

HOUR = 3600.0


def _archive(s3: Any, bucket: str, events: list[dict[str, Any]], at: float, name: str = "a") -> str:
    """Events as the Firehose archive writes them: gzip JSON Lines under events/yyyy/MM/dd/HH/."""
    key = f"events/{time.strftime('%Y/%m/%d/%H', time.gmtime(at))}/pulse-archive-{name}.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress("".join(json.dumps(e) + "\n" for e in events).encode()))
    return key


def _json(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    return dict(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


@pytest.fixture
def trainer(aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The trainer function's handler with its own environment (as its execution environment has it)."""
    from pulse.adapters.aws import reset_cached_clients

    for key, value in aws_stack.specs["TrainerFunction"].environment.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "PulseTests")
    reset_cached_clients()
    handler = aws_stack.handler("TrainerFunction")

    def call(event: dict[str, Any]) -> dict[str, Any]:
        return dict(handler(event, aws_stack.context("TrainerFunction")))

    call.dependencies = aws_stack.dependencies("TrainerFunction")  # type: ignore[attr-defined]
    return call


def _scheduled() -> dict[str, Any]:
    from infrastructure.schedule import scheduled_event

    return scheduled_event("arn:aws:events:us-east-1:123456789012:rule/training", "us-east-1", "123456789012")


def test_a_worse_retrained_model_is_refused_and_the_served_one_keeps_serving(
    aws_stack: AwsStack, trainer: Callable[[dict[str, Any]], dict[str, Any]], monkeypatch, capsys
) -> None:
    s3, bucket = aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"]
    # Given a first run on the shop's real behaviour: promoted (nothing served yet)
    _archive(s3, bucket, shop_log(), time.time() - 2 * HOUR, "good")
    first = trainer(_scheduled())
    assert first["status"] == "promoted" and first["trigger"] == "schedule"
    served = _json(s3, bucket, "models/current.json")["version"]
    assert served == first["version"]
    # And a scheduled run with nothing newly archived: skipped, nothing published
    again = [trainer(_scheduled()) for _ in range(2)]  # a skip is remembered too: still nothing new
    assert [r["status"] for r in again] == ["skipped", "skipped"] and "nothing archived since" in again[1]["reason"]
    capsys.readouterr()

    # When the newest archived behaviour is noise (the same log, items shuffled), two runs in a row
    _archive(s3, bucket, shop_log(shuffled=True, days_later=1), time.time(), "noise")
    refused = [trainer({"window_days": 0.01}) for _ in range(2)]  # this hour's file only

    # Then both are published as refused, with figures and reason, and the first version serves on
    assert [r["status"] for r in refused] == ["refused", "refused"]
    assert [r["refusals_in_a_row"] for r in refused] == [1, 2]
    assert _json(s3, bucket, "models/current.json")["version"] == served
    gate = _json(s3, bucket, f"models/{refused[0]['version']}/manifest.json")["gate"]
    assert not gate["promote"] and gate["served_version"] == served and gate["reason"] == refused[0]["reason"]
    assert {"candidate", "popularity", "item-knn", "served"} <= set(gate["figures"])
    # And the alarm's figure says two refusals in a row
    assert '"TrainingRefusalsInARow":[2.0]' in capsys.readouterr().out.replace(" ", "")
    # And the run record and `pulse models` show the refusal and its reason
    assert _json(s3, bucket, "training-runs/latest.json")["status"] == "refused"
    from scripts.cli import main as cli
    from scripts.cli.target import Target

    # the target is resolved from the endpoint, then left to the in-process moto already in place
    monkeypatch.setattr(Target, "apply", lambda self: os.environ.pop("AWS_ENDPOINT_URL", None))
    listing = CliRunner().invoke(cli, ["models", "--bucket", bucket], env={"AWS_ENDPOINT_URL": "http://moto"})
    assert listing.exit_code == 0, listing.output
    assert "gate: REFUSED" in listing.output and gate["reason"] in listing.output
    assert "last retraining:" in listing.output and "refused" in listing.output


def test_a_retrained_model_that_beats_the_served_one_is_promoted(
    aws_stack: AwsStack, trainer: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    s3, bucket = aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"]
    # Given a served version trained on noise (its run refused by nothing: the first is compared to baselines)
    _archive(s3, bucket, shop_log(shuffled=True), time.time() - 30 * HOUR, "noise")
    from training.publish import promote

    noisy = trainer({"window_days": 1.5})
    assert noisy["status"] == "refused" and noisy["served_after"] is None  # it does not beat the baselines
    promote(s3, bucket, noisy["version"], force=True)
    # When the real behaviour is archived and a run reads only it
    _archive(s3, bucket, shop_log(days_later=1), time.time(), "good")
    run = trainer({"window_days": 0.01})
    # Then it beats the served version on the same held-out items, and serves
    assert run["status"] == "promoted", run["reason"]
    assert _json(s3, bucket, "models/current.json")["version"] == run["version"] != noisy["version"]
    assert run["gate"]["figures"]["candidate"] > run["gate"]["figures"]["served"]


def test_a_window_above_the_ceiling_trains_on_the_newest_events_and_says_so(aws_stack: AwsStack) -> None:
    s3, bucket = aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"]
    older, newer = shop_log(users=60, seed=3), shop_log(users=100, seed=4)
    _archive(s3, bucket, older, time.time() - 5 * HOUR, "older")
    newest = _archive(s3, bucket, newer, time.time(), "newer")
    settings = RetrainSettings(bucket=bucket, window_days=1, max_events=len(newer), eval_users=None, dense_max_items=10)
    run = retrain(s3, settings, lambda: None, now=time.time(), trigger="on demand", say=lambda _: None)
    window = run.window
    assert window["truncated"] and window["events"] == len(newer) and window["files_read"] == 1
    assert window["files_left_out"] == 1 and window["newest_file"] == newest
    assert any("more than the ceiling" in line for line in run.log)
    manifest = _json(s3, bucket, f"models/{run.version}/manifest.json")
    assert manifest["window"]["truncated"] and manifest["trained_on"]["events"] == len(newer)
    assert manifest["trained_on"]["from"] >= min(e["timestamp"] for e in newer)  # none of the older file
    # and above its dense-model item limit, the run fits the sparse models (cost linear in the items)
    assert manifest["params"]["method"] == "knn" and any("sparse item models" in line for line in run.log)


def test_a_failed_run_raises_records_why_and_leaves_serving_untouched(
    aws_stack: AwsStack, trainer: Callable[[dict[str, Any]], dict[str, Any]], capsys
) -> None:
    s3, bucket = aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"]
    _archive(s3, bucket, shop_log(), time.time() - HOUR, "good")
    served = trainer({})["version"]
    pointer = _json(s3, bucket, "models/current.json")
    capsys.readouterr()

    class Broken:
        def changes(self, since: float) -> list[Any]:
            raise ConnectionError("the items table cannot be read")

    deps = trainer.dependencies()  # type: ignore[attr-defined]
    with trainer.dependencies.override(type(deps)(deps.settings, deps.s3, Broken())):  # type: ignore[attr-defined]
        _archive(s3, bucket, shop_log(seed=2), time.time(), "more")
        with pytest.raises(RunFailed, match="items table"):  # Lambda counts an error: TrainingFailedAlarm
            trainer({})
    assert '"TrainingFailed":[1.0]' in capsys.readouterr().out.replace(" ", "")
    assert _json(s3, bucket, "models/current.json") == pointer and pointer["version"] == served
    record = _json(s3, bucket, "training-runs/latest.json")
    assert record["status"] == "failed" and "items table" in record["reason"] and record["served_after"] == served


def test_a_run_about_to_time_out_leaves_its_record_while_busy_then_stops_itself(aws_stack: AwsStack) -> None:
    s3, bucket = aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"]
    _archive(s3, bucket, shop_log(), time.time(), "good")
    settings = RetrainSettings(bucket=bucket, reserve_seconds=30.0)
    seen: list[dict[str, Any]] = []

    def busy(line: str) -> None:  # the run's thread is held in its first step until the record is there
        end = time.monotonic() + 10
        while not seen and time.monotonic() < end:
            found = _json(s3, bucket, "training-runs/latest.json") if _has_record(s3, bucket) else {}
            seen.extend([found] if found.get("status") == "failed" else [])
            time.sleep(0.02)

    with pytest.raises(RunFailed, match="RunOutOfTime"):
        retrain(s3, settings, lambda: None, time.time(), seconds_left=lambda: 30.02, say=busy)
    assert seen and "before the function's timeout" in seen[0]["reason"] and not seen[0]["version"]
    record = _json(s3, bucket, "training-runs/latest.json")  # then the run's own, once stopped
    assert record["status"] == "failed" and "before the function's timeout" in record["reason"]
    assert not record["version"] and record["run_id"] == seen[0]["run_id"]
    assert not s3.list_objects_v2(Bucket=bucket, Prefix="models/").get("KeyCount")  # nothing published


def _has_record(s3: Any, bucket: str) -> bool:
    return bool(s3.list_objects_v2(Bucket=bucket, Prefix="training-runs/latest.json").get("KeyCount"))


def test_an_empty_archive_or_a_bad_request_is_said_not_raised(
    aws_stack: AwsStack, trainer: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    empty = trainer(_scheduled())
    assert empty["status"] == "skipped" and "holds no event" in empty["reason"]
    bad = trainer({"window_days": -3, "colour": "red"})
    assert bad["status"] == "rejected" and "window_days" in bad["reason"] and "colour" in bad["reason"]


def test_a_served_version_that_cannot_be_loaded_is_no_bar_and_the_run_says_so(aws_stack: AwsStack) -> None:
    s3, bucket = aws_stack.client("s3"), aws_stack.env["MODEL_BUCKET"]
    _archive(s3, bucket, shop_log(), time.time() - HOUR, "good")
    settings = RetrainSettings(bucket=bucket)
    first = retrain(s3, settings, lambda: None, time.time(), say=lambda _: None)
    # the served version's files are damaged (its checksums no longer match)
    s3.put_object(Bucket=bucket, Key=f"models/{first.version}/ranker.json", Body=b"{}")
    _archive(s3, bucket, shop_log(seed=2, days_later=1), time.time(), "more")
    run = retrain(s3, settings, lambda: None, time.time(), say=lambda _: None)
    assert any("cannot be loaded" in line for line in run.log)
    assert run.status == "promoted" and run.gate is not None and "served" not in run.gate["figures"]
