"""Shared fixtures. Handlers are imported inside fixtures, after the environment is set."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

# Safe defaults before anything imports boto3 clients or Powertools' Tracer (which opens a socket).
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "pulse",
        "POWERTOOLS_METRICS_NAMESPACE": "PulseTests",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)


@dataclass
class AwsStack:
    """The template's resources in moto, plus the functions' specs and handlers."""

    stack: Any
    specs: dict[str, Any]
    modules: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name="us-east-1")  # type: ignore[call-overload]

    def handler(self, logical_id: str) -> Any:
        """The function's handler, imported afresh (as a new execution environment)."""
        from infrastructure.functions import load_module

        spec = self.specs[logical_id]
        self.modules[logical_id] = load_module(spec)
        return getattr(self.modules[logical_id], spec.handler_name)

    def dependencies(self, logical_id: str) -> Any:
        """The ``Provider`` of the last loaded handler's collaborators: ``.override(...)`` swaps them."""
        return self.modules[logical_id].dependencies

    def context(self, logical_id: str) -> Any:
        from infrastructure.functions import LambdaContext

        return LambdaContext.for_spec(self.specs[logical_id])

    @property
    def env(self) -> dict[str, str]:
        return self.specs["ProfileUpdaterFunction"].environment


def reset_cached_clients() -> None:
    from pulse.adapters.aws import reset_cached_clients as reset
    from pulse.domain.segments import use_catalog

    reset()
    use_catalog(None)  # a function's wiring installs the stack's runtime definitions: not the next test's


@pytest.fixture
def aws_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsStack]:
    """Given every resource of template.yaml created in moto (in-process) and the functions' env set."""
    from moto import mock_aws

    from infrastructure import moto_speedups
    from infrastructure.functions import function_specs
    from infrastructure.resources import create_all
    from infrastructure.template import Stack, load_template

    moto_speedups.install()  # the updater writes users concurrently; moto's backend is not thread-safe
    with mock_aws():
        stack = Stack(load_template(), name="pulse-test")
        create_all(stack, lambda service: boto3.client(service, region_name="us-east-1"))  # type: ignore[call-overload]
        specs = function_specs(stack)
        for key, value in specs["ApiFunction"].environment.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "PulseTests")
        reset_cached_clients()
        yield AwsStack(stack, specs)
        reset_cached_clients()


@pytest.fixture
def override() -> Iterator[Any]:
    """``override(provider, value)``: the handler works with ``value`` until the test ends."""
    undo: list[Any] = []

    def apply(provider: Any, value: Any) -> Any:
        context = provider.override(value)
        context.__enter__()
        undo.append(context)
        return value

    yield apply
    for context in reversed(undo):
        context.__exit__(None, None, None)
