"""The template's functions: their code, environment and event sources, and two ways to run them.

- ``load_handler``: import a handler in this process (tests; moto's in-process mock).
- ``FunctionWorker``: a long-lived child process per function, like a Lambda execution environment,
  with exactly the function's environment (template variables plus the local endpoint). The local
  stack uses it, so two functions never share imports or environment variables.
"""

from __future__ import annotations

import importlib.util
import json
import os
import selectors
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from infrastructure.template import ROOT, Stack

LAYER_DIR = ROOT / "layers" / "core"


@dataclass
class KinesisSource:
    name: str
    stream: str  # stream name
    stream_arn: str
    batch_size: int = 100
    starting_position: str = "LATEST"
    window_seconds: float = 0.0
    max_retries: int = -1
    max_record_age: int = -1
    bisect: bool = False
    report_batch_item_failures: bool = False
    on_failure_arn: str | None = None
    parallelization: int = 1


@dataclass
class SqsSource:
    name: str
    queue_arn: str
    batch_size: int = 10
    report_batch_item_failures: bool = False


@dataclass(frozen=True)
class Authorizer:
    """A Lambda REQUEST authorizer of an ``AWS::Serverless::Api``: the function, the header holding
    the credential, how long API Gateway keeps an answer, and the usage plan's throttle."""

    name: str
    function: str  # logical id
    header: str
    cache_seconds: float
    rate_limit: float | None = None
    burst_limit: int | None = None


@dataclass
class ApiRoute:
    name: str
    path: str
    method: str
    api_key_required: bool
    authorizer: Authorizer | None = None


RATE_UNITS = {"minute": 60.0, "minutes": 60.0, "hour": 3600.0, "hours": 3600.0, "day": 86400.0, "days": 86400.0}


@dataclass
class ScheduleSource:
    """A ``Schedule`` event: EventBridge invokes the function every ``period_seconds`` (None for a
    ``cron(...)`` expression, which the local stack fires only at its own local period)."""

    name: str
    expression: str
    period_seconds: float | None
    enabled: bool = True  # the event's ``State`` (DISABLED: the rule exists and never fires)


def rate_seconds(expression: str) -> float:
    """``rate(5 minutes)`` -> 300.0. Cron expressions are not emulated locally (ValueError)."""
    inner = expression.strip()
    if not (inner.startswith("rate(") and inner.endswith(")")):
        raise ValueError(f"only rate(...) schedules run locally, not {expression!r}")
    value, _, unit = inner[5:-1].strip().partition(" ")
    if unit.strip() not in RATE_UNITS or not value.isdigit() or int(value) < 1:
        raise ValueError(f"not a rate expression: {expression!r}")
    return int(value) * RATE_UNITS[unit.strip()]


@dataclass
class FunctionSpec:
    logical_id: str
    name: str
    code_dir: Path
    handler: str
    timeout: float
    memory_mb: int
    environment: dict[str, str]
    kinesis_sources: list[KinesisSource] = field(default_factory=list)
    routes: list[ApiRoute] = field(default_factory=list)
    sqs_sources: list[SqsSource] = field(default_factory=list)
    schedules: list[ScheduleSource] = field(default_factory=list)

    @property
    def module_file(self) -> Path:
        return self.code_dir / (self.handler.rsplit(".", 1)[0].replace(".", "/") + ".py")

    @property
    def handler_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]


def _stream_name_from_arn(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def function_specs(stack: Stack, local_env: dict[str, str] | None = None) -> dict[str, FunctionSpec]:
    """Every ``AWS::Serverless::Function`` with its resolved settings (after ``create_all``)."""
    api_auth = {}
    authorizers: dict[str, dict[str, Authorizer]] = {}
    default_authorizer: dict[str, str | None] = {}
    arns = {r.attributes.get("Arn"): logical for logical, r in stack.resources.items()}
    for api_id in stack.resource_specs("AWS::Serverless::Api"):
        auth = stack.properties(api_id).get("Auth", {})
        api_auth[api_id] = bool(auth.get("ApiKeyRequired", False))
        throttle = auth.get("UsagePlan", {}).get("Throttle", {})
        authorizers[api_id] = {
            name: Authorizer(
                name=name,
                function=arns[definition["FunctionArn"]],
                header=str((definition.get("Identity", {}).get("Headers") or ["Authorization"])[0]),
                cache_seconds=float(definition.get("Identity", {}).get("ReauthorizeEvery", 300)),
                rate_limit=float(throttle["RateLimit"]) if "RateLimit" in throttle else None,
                burst_limit=int(throttle["BurstLimit"]) if "BurstLimit" in throttle else None,
            )
            for name, definition in (auth.get("Authorizers") or {}).items()
            if definition.get("FunctionPayloadType") == "REQUEST"
        }
        default_authorizer[api_id] = auth.get("DefaultAuthorizer")
    specs: dict[str, FunctionSpec] = {}
    for logical_id in stack.resource_specs("AWS::Serverless::Function"):
        props = stack.function_properties(logical_id)
        env = {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
        env.update(local_env or {})
        spec = FunctionSpec(
            logical_id=logical_id,
            name=stack.resources[logical_id].ref if logical_id in stack.resources else logical_id,
            code_dir=ROOT / str(props["CodeUri"]),
            handler=str(props["Handler"]),
            timeout=float(props.get("Timeout", 3)),
            memory_mb=int(props.get("MemorySize", 128)),
            environment=env,
        )
        for event_name, event in (props.get("Events") or {}).items():
            ev = event.get("Properties", {})
            if event["Type"] == "Kinesis":
                spec.kinesis_sources.append(kinesis_source(event_name, ev["Stream"], ev))
            elif event["Type"] == "SQS":
                spec.sqs_sources.append(
                    SqsSource(
                        name=event_name,
                        queue_arn=str(ev["Queue"]),
                        batch_size=int(ev.get("BatchSize", 10)),
                        report_batch_item_failures="ReportBatchItemFailures" in ev.get("FunctionResponseTypes", []),
                    )
                )
            elif event["Type"] == "Schedule":
                expression = str(ev["Schedule"])
                try:
                    period: float | None = rate_seconds(expression)
                except ValueError:
                    period = None
                enabled = str(ev.get("State", "ENABLED")) != "DISABLED" and ev.get("Enabled", True) is not False
                spec.schedules.append(ScheduleSource(event_name, expression, period, enabled))
            elif event["Type"] == "Api":
                api_id = ev.get("RestApiId")
                default = next(iter(api_auth.values()), False)
                required = ev.get("Auth", {}).get("ApiKeyRequired", api_auth.get(str(api_id), default))
                key = str(api_id) if api_id in authorizers else next(iter(authorizers), "")
                chosen = ev.get("Auth", {}).get("Authorizer", default_authorizer.get(key))
                authorizer = authorizers.get(key, {}).get(str(chosen)) if chosen not in (None, "NONE") else None
                spec.routes.append(ApiRoute(event_name, ev["Path"], ev["Method"].upper(), bool(required), authorizer))
        specs[logical_id] = spec
    # triggers declared as resources (the updater's, so SAM attaches no account-wide Kinesis policy)
    by_name = {spec.name: spec for spec in specs.values()}
    for mapping_id in stack.resource_specs("AWS::Lambda::EventSourceMapping"):
        props = stack.properties(mapping_id)
        target = by_name.get(str(props["FunctionName"]).rsplit(":", 1)[-1])
        if target is not None and ":kinesis:" in str(props["EventSourceArn"]):
            target.kinesis_sources.append(kinesis_source(mapping_id, str(props["EventSourceArn"]), props))
    return specs


def kinesis_source(name: str, stream_arn: str, props: dict[str, Any]) -> KinesisSource:
    """A Kinesis trigger's settings, from a SAM ``Kinesis`` event or an ``EventSourceMapping``."""
    return KinesisSource(
        name=name,
        stream=_stream_name_from_arn(stream_arn),
        stream_arn=stream_arn,
        batch_size=int(props.get("BatchSize", 100)),
        starting_position=props.get("StartingPosition", "LATEST"),
        window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
        max_retries=int(props.get("MaximumRetryAttempts", -1)),
        max_record_age=int(props.get("MaximumRecordAgeInSeconds", -1)),
        bisect=bool(props.get("BisectBatchOnFunctionError", False)),
        report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
        on_failure_arn=props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"),
        parallelization=int(props.get("ParallelizationFactor", 1)),
    )


class LambdaContext:
    """The parts of Lambda's context object that Powertools reads."""

    def __init__(self, name: str, timeout: float, memory_mb: int) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout

    @classmethod
    def for_spec(cls, spec: FunctionSpec) -> LambdaContext:
        return cls(spec.name, spec.timeout, spec.memory_mb)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(spec: FunctionSpec) -> Callable[[dict[str, Any], Any], Any]:
    """Import the function's module in this process under a unique name (environment must be set)."""
    handler: Callable[[dict[str, Any], Any], Any] = getattr(load_module(spec), spec.handler_name)
    return handler


def load_module(spec: FunctionSpec) -> ModuleType:
    """The function's module, imported afresh (its ``dependencies`` provider is new)."""
    for path in (str(LAYER_DIR), str(spec.code_dir)):
        if path not in sys.path:
            sys.path.insert(0, path)
    module_name = f"pulse_fn_{spec.logical_id}"
    sys.modules.pop(module_name, None)
    loader_spec = importlib.util.spec_from_file_location(module_name, spec.module_file)
    assert loader_spec is not None and loader_spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module
    loader_spec.loader.exec_module(module)
    return module


class FunctionError(Exception):
    """The function raised, timed out or crashed (Lambda's "function error")."""


class FunctionWorker:
    """One execution environment: a child process that keeps the handler warm between invocations."""

    def __init__(self, spec: FunctionSpec, log_file: Path | None = None) -> None:
        self.spec = spec
        self.log_file = log_file
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_"))}
        env.update(self.spec.environment)
        env["PYTHONPATH"] = os.pathsep.join([str(LAYER_DIR), str(self.spec.code_dir), str(ROOT)])
        env["AWS_LAMBDA_FUNCTION_NAME"] = self.spec.name
        env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(self.spec.memory_mb)
        logs = self.log_file.open("ab") if self.log_file else None  # the child keeps its own handle
        try:
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "infrastructure.worker",
                    str(self.spec.module_file),
                    self.spec.handler_name,
                    self.spec.name,
                    str(self.spec.timeout),
                    str(self.spec.memory_mb),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=logs,
                env=env,
                cwd=str(ROOT),
            )
        finally:
            if logs is not None:
                logs.close()

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = self._start()
            proc = self._proc
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(event).encode() + b"\n")
            proc.stdin.flush()
            sel = selectors.DefaultSelector()
            sel.register(proc.stdout, selectors.EVENT_READ)
            # first invocation includes the cold start (imports); allow for it on top of the timeout
            ready = sel.select(timeout=self.spec.timeout + 30)
            sel.close()
            if not ready:
                proc.kill()
                self._proc = None
                raise FunctionError(f"{self.spec.logical_id} timed out after {self.spec.timeout:.0f} s")
            line = proc.stdout.readline()
            if not line:
                self._proc = None
                raise FunctionError(f"{self.spec.logical_id} crashed (exit code {proc.wait()})")
            reply = json.loads(line)
            if "error" in reply:
                raise FunctionError(reply["error"])
            return reply["result"]

    def stop(self) -> None:
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                assert self._proc.stdin is not None
                self._proc.stdin.close()
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
            self._proc = None
