"""`pulse` against a running local stack, as a user runs it (a subprocess): `pulse invoke` runs each
function on each sample event of events/, the Docker-free `sam local invoke`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infrastructure.local_stack import LocalStack
from infrastructure.template import ROOT
from scripts.cli.local import EVENT_DIRS
from tests.e2e.conftest import running_stack
from tests.modelkit import publish_and_promote, tiny_model

PULSE = str(Path(sys.executable).with_name("pulse"))


@pytest.fixture(scope="module")
def stack_with_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, dict[str, str]]]:
    state = tmp_path_factory.mktemp("state") / "stack.json"
    with running_stack(state_file=state) as stack:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {"PULSE_LOCAL_STATE": str(state)}
        yield stack, env


def pulse(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PULSE, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_pulse_invoke_runs_every_function_on_every_sample_event(stack_with_state) -> None:
    stack, env = stack_with_state
    publish_and_promote(stack.client("s3"), stack.outputs()["ModelBucketName"], tiny_model(), "invoke")
    files = sorted((ROOT / "events").rglob("*.json"))
    assert {f.parent.name for f in files} == set(EVENT_DIRS)
    for path in files:
        function = EVENT_DIRS[path.parent.name]
        done = pulse(env, "invoke", function, str(path))
        assert done.returncode == 0, (path, done.stderr[-2000:])
        answer = json.loads(done.stdout)
        if "statusCode" in answer:  # an API answer: never a server error on the samples
            assert answer["statusCode"] < 500, (path, answer)
        elif function == "AuthorizerFunction":  # the sample's key is no client's: every route denied
            assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny", answer
        elif function in ("ProfileUpdaterFunction", "EraserFunction", "ExporterFunction"):
            assert answer == {"batchItemFailures": []}, path
        elif function == "TrainerFunction":  # a run, recorded: here the archive holds no event yet
            assert answer["status"] == "skipped" and answer["run_id"], (path, answer)
        else:
            assert answer["unfinished"] == 0, (path, answer)


def test_pulse_commands_find_the_local_stack_from_its_state(stack_with_state) -> None:
    _, env = stack_with_state
    listed = pulse(env, "models")
    assert listed.returncode == 0 and "invoke" in listed.stdout  # the version published above
    assert pulse(env, "dead-letters").returncode == 0
    unknown = pulse(env, "invoke", "NoSuchFunction", str(ROOT / "events/api/get_health.json"))
    assert unknown.returncode == 1 and "ApiFunction" in unknown.stderr


def test_pulse_clients_create_rotate_list_and_revoke(stack_with_state) -> None:
    from pulse.adapters.clients import DynamoClientDirectory
    from pulse.config import Settings

    stack, env = stack_with_state
    settings = {"CLIENTS_TABLE": stack.outputs()["ClientsTableName"], "AWS_ENDPOINT_URL": stack.config.endpoint}
    clients = DynamoClientDirectory(Settings.model_validate(settings))
    created = pulse(env, "clients", "create", "shop-app", "--scope", "ingest", "--scope", "recommend")
    assert created.returncode == 0, created.stderr
    first = created.stdout.strip()
    found = clients.find(first)
    assert found is not None and found.scopes == ("ingest", "recommend")
    assert pulse(env, "clients", "create", "shop-app", "--scope", "admin").returncode == 1  # exists: rotate it
    assert pulse(env, "clients", "create", "bad", "--scope", "everything").returncode == 2
    rotated = pulse(env, "clients", "rotate", "shop-app", "--grace-hours", "1")
    assert rotated.returncode == 0, rotated.stderr
    second = rotated.stdout.strip()
    old, new = clients.find(first), clients.find(second)
    assert old is not None and old.expires_at is not None and new is not None and new.scopes == found.scopes
    listed = pulse(env, "clients", "list")
    assert listed.stdout.count("shop-app") == 2 and "until" in listed.stdout and "active" in listed.stdout
    assert pulse(env, "clients", "revoke", "shop-app").returncode == 0
    assert pulse(env, "clients", "list").stdout.count("revoked") == 2
    assert pulse(env, "clients", "revoke", "nobody").returncode == 1
