"""The `pulse` command line: every command has complete help, and `--stack` never sends the local
endpoint or moto's keys to AWS (the SDK's calls are intercepted before anything leaves the process)."""

from __future__ import annotations

import os
from typing import Any

import botocore.client
import pytest
from click.testing import CliRunner

from scripts.cli import main
from scripts.cli import target as targets

OUTPUTS = {
    "ModelBucketName": "prod-models",
    "EventStreamName": "prod-events",
    "DeadLetterQueueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/prod-dlq",
    "ProfilesTableName": "prod-profiles",
    "SegmentsTableName": "prod-segments",
    "ClientsTableName": "prod-clients",
    "UsagePlanId": "plan1",
    "TrainerFunctionName": "prod-trainer",
}


def test_every_command_has_help_with_a_description_and_documented_options() -> None:
    runner = CliRunner()
    for name, command in main.commands.items():
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, name
        assert (command.help or "").strip(), name
        for param in command.params:
            if getattr(param, "param_type_name", "") == "option":
                assert getattr(param, "help", None), (name, param.name)


@pytest.fixture(autouse=True)
def _environment_restored() -> Any:
    """Commands point the SDK at their target through os.environ (as a CLI process does): put it back,
    so no endpoint or credential outlives the test."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    from pulse.adapters.aws import reset_cached_clients

    reset_cached_clients()


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every AWS call the command makes: where it would go and with which access key."""
    calls: list[dict[str, Any]] = []

    def record(client: Any, operation: str, params: dict[str, Any]) -> Any:
        credentials = client._request_signer._credentials
        calls.append(
            {
                "operation": operation,
                "endpoint": client.meta.endpoint_url,
                "key": credentials.access_key if credentials else None,
            }
        )
        if operation == "ListObjectsV2":
            return {"CommonPrefixes": [], "KeyCount": 0}
        if operation == "GetObject":
            raise client.exceptions.NoSuchKey({"Error": {"Code": "NoSuchKey", "Message": "none"}}, operation)
        return {}

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    monkeypatch.setattr(targets, "_describe_stack", lambda target: (OUTPUTS, {"DecayHalfLifeDays": "21"}))
    return calls


def test_a_deployed_stack_gets_the_users_credentials_and_aws_endpoints(
    aws_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a shell where the local stack was used before (moto's keys) and the user's own key in a profile
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
    monkeypatch.setattr(targets.Target, "apply", _apply_with_user_key(targets.Target.apply, monkeypatch))
    # When an operator command targets the deployed stack
    result = CliRunner().invoke(main, ["models", "--stack", "prod", "--region", "eu-west-1"])
    # Then it reaches AWS's own endpoint in that region with the user's key, never moto's
    assert result.exit_code == 0, result.output
    assert aws_calls and all(c["key"] == "AKIAUSEREXAMPLE" for c in aws_calls)
    assert all(
        c["endpoint"] == "https://prod-models.s3.eu-west-1.amazonaws.com" or "amazonaws.com" in c["endpoint"]
        for c in aws_calls
    )
    assert not any("127.0.0.1" in c["endpoint"] or "localhost" in c["endpoint"] for c in aws_calls)
    import os

    assert os.environ["DECAY_HALF_LIFE_DAYS"] == "21" and os.environ["MODEL_BUCKET"] == "prod-models"


def _apply_with_user_key(apply: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    def wrapped(self: targets.Target) -> None:
        apply(self)  # drops moto's keys for a deployed stack...
        assert __import__("os").environ.get("AWS_ACCESS_KEY_ID") != "testing"
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUSEREXAMPLE")  # ...and the user's chain provides theirs
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "user-secret")

    return wrapped


def test_without_a_stack_commands_go_to_the_local_stack(
    aws_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("PULSE_LOCAL_STATE", str(tmp_path / "absent.json"))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 0, result.output
    assert aws_calls and all(c["endpoint"].startswith("http://127.0.0.1:5000") for c in aws_calls)
    assert "pulse-local-modelbucket" in result.output or "no model version" in result.output


def test_an_endpoint_in_the_environment_wins(aws_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    result = CliRunner().invoke(main, ["models", "--stack", "other"])
    assert result.exit_code == 0, result.output
    assert all(c["endpoint"].startswith("http://127.0.0.1:4566") for c in aws_calls)


def test_invoke_says_how_to_start_the_local_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("PULSE_LOCAL_STATE", str(tmp_path / "absent.json"))
    sample = tmp_path / "e.json"
    sample.write_text("{}")
    result = CliRunner().invoke(main, ["invoke", "ApiFunction", str(sample)])
    assert result.exit_code == 1 and "pulse up" in result.output


def test_the_readmes_commands_for_a_deployed_stack_reach_only_aws(
    aws_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import shlex

    from infrastructure.template import ROOT

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(targets.Target, "apply", _apply_with_user_key(targets.Target.apply, monkeypatch))
    readme = (ROOT / "README.md").read_text()
    lines = [line.strip() for line in readme.splitlines() if line.strip().startswith("pulse ") and "--stack" in line]
    assert len(lines) >= 3
    for line in lines:
        aws_calls.clear()
        words = shlex.split(line.replace("<ModelBucketName>", OUTPUTS["ModelBucketName"]), comments=True)[1:]
        CliRunner().invoke(main, words)  # answers are canned, so only where the calls went matters
        assert aws_calls, line
        for call in aws_calls:
            assert "amazonaws.com" in call["endpoint"] and call["key"] == "AKIAUSEREXAMPLE", (line, call)
        assert os.environ.get("AWS_ENDPOINT_URL") is None
