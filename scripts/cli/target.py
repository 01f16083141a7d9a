"""Which stack a ``pulse`` command talks to, and how: the one place that decides it.

- ``--stack NAME`` with no ``AWS_ENDPOINT_URL``: that deployed stack, with the user's own AWS
  credential chain (``--profile``, ``--region``, or the usual variables and files). No local endpoint
  and no fake key ever reaches boto3.
- ``AWS_ENDPOINT_URL`` set: that endpoint, whatever else is given (the contract's rule).
- otherwise: the local stack that ``pulse up`` runs (its endpoint and resource names come from the
  state file it writes, so ``pulse up --aws-port 5001`` is found too), with moto's test keys.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infrastructure.template import ROOT
from pulse.adapters.aws import reset_cached_clients

# written by `pulse up`; PULSE_LOCAL_STATE moves it (tests run stacks of their own)
LOCAL_STATE = Path(os.environ.get("PULSE_LOCAL_STATE", ROOT / ".cache" / "local-stack" / "pulse-local.json"))
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
DEFAULT_LOCAL_ENDPOINT = "http://127.0.0.1:5000"
OUTPUT_OF = {  # what each command needs, by the template's output names
    "bucket": "ModelBucketName",
    "stream": "EventStreamName",
    "queue": "DeadLetterQueueUrl",
    "profiles": "ProfilesTableName",
    "segments": "SegmentsTableName",
    "clients": "ClientsTableName",
    "api": "ApiUrl",
    "trainer": "TrainerFunctionName",
    "bus": "EventBusName",
}
ENVIRONMENT = {
    "MODEL_BUCKET": "bucket",
    "EVENT_STREAM": "stream",
    "DEAD_LETTER_QUEUE_URL": "queue",
    "PROFILES_TABLE": "profiles",
    "SEGMENTS_TABLE": "segments",
    "CLIENTS_TABLE": "clients",
}


class TargetError(Exception):
    """The stack cannot be reached or described; the message says what to do."""


@dataclass
class Target:
    stack: str | None
    region: str
    profile: str | None
    endpoint: str | None
    outputs: dict[str, str] = field(default_factory=dict)
    functions: dict[str, dict[str, Any]] = field(default_factory=dict)  # local only: how each function runs
    half_life_days: str | None = None  # the stack's DecayHalfLifeDays: training uses what serving uses

    @property
    def deployed(self) -> bool:
        return self.endpoint is None

    def name(self, what: str) -> str:
        """A resource's physical name or URL (``bucket``, ``stream``, ``queue``, ``profiles``...)."""
        key = OUTPUT_OF[what]
        if key not in self.outputs:
            where = f"stack {self.stack}" if self.stack else "the local stack"
            raise TargetError(f"{where} has no output {key}")
        return self.outputs[key]

    def describe(self) -> str:
        if self.deployed:
            return f"stack {self.stack} in {self.region}" + (f" (profile {self.profile})" if self.profile else "")
        return f"{self.stack or 'the local stack'} at {self.endpoint}"

    def apply(self) -> None:
        """Point this process's AWS SDK at the target (the default session and the cached clients)."""
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = self.region
        if self.deployed:
            os.environ.pop("AWS_ENDPOINT_URL", None)
            for name, value in LOCAL_CREDENTIALS.items():  # never send moto's keys to AWS
                if os.environ.get(name) == value:
                    del os.environ[name]
            if self.profile:
                os.environ["AWS_PROFILE"] = self.profile
        else:
            assert self.endpoint is not None
            os.environ["AWS_ENDPOINT_URL"] = self.endpoint
            if "AWS_ACCESS_KEY_ID" not in os.environ and not self.profile:
                os.environ.update(LOCAL_CREDENTIALS)
        if self.half_life_days:
            os.environ["DECAY_HALF_LIFE_DAYS"] = self.half_life_days
        for variable, what in ENVIRONMENT.items():  # what the operator modules read, as the functions do
            if OUTPUT_OF[what] in self.outputs:
                os.environ[variable] = self.outputs[OUTPUT_OF[what]]
        reset_cached_clients()


def state_path() -> Path:
    return Path(os.environ.get("PULSE_LOCAL_STATE", LOCAL_STATE))


def local_state(path: Path | None = None) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = json.loads((path or state_path()).read_text())
    except (OSError, ValueError):
        return None
    return found


def resolve(stack: str | None, region: str | None, profile: str | None) -> Target:
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    chosen_region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    if stack:
        target = Target(stack, chosen_region, profile, endpoint or None)
        target.outputs, parameters = _describe_stack(target)
        target.half_life_days = parameters.get("DecayHalfLifeDays")
        return target
    state = local_state()
    if endpoint is None and state is not None:
        endpoint = state["endpoint"]
    target = Target(None, chosen_region, profile, endpoint or DEFAULT_LOCAL_ENDPOINT)
    if state is not None and state.get("endpoint") == target.endpoint:
        target.outputs = dict(state["outputs"])
        target.functions = dict(state.get("functions", {}))
        target.region = state.get("region", target.region)
        first = next(iter(target.functions.values()), {})
        target.half_life_days = first.get("environment", {}).get("DECAY_HALF_LIFE_DAYS")
    else:  # a local stack started some other way: the names `pulse up` would give
        from scripts.stack import local_name

        target.outputs = {
            "ModelBucketName": local_name("ModelBucket").lower(),
            "EventStreamName": local_name("EventStream"),
            "ProfilesTableName": local_name("ProfilesTable"),
            "SegmentsTableName": local_name("SegmentsTable"),
            "ClientsTableName": local_name("ClientsTable"),
        }
    return target


def _describe_stack(target: Target) -> tuple[dict[str, str], dict[str, str]]:
    """The deployed stack's outputs and parameters."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    session = boto3.Session(profile_name=target.profile, region_name=target.region)
    try:
        cfn = session.client("cloudformation", endpoint_url=target.endpoint)
        [found] = cfn.describe_stacks(StackName=target.stack or "")["Stacks"]
    except (BotoCoreError, ClientError) as exc:
        raise TargetError(f"cannot describe stack {target.stack} in {target.region}: {exc}") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    return outputs, {p["ParameterKey"]: p.get("ParameterValue", "") for p in found.get("Parameters", [])}
