"""A local stack (moto server + functions + API) on free ports, shared by the e2e tests of a module."""

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from infrastructure.local_stack import LocalStack, LocalStackConfig


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_stack(**options: Any) -> Iterator[LocalStack]:
    """A local stack on free ports; moto's backends live in the process, so each stack gets its own
    resource names."""
    config = LocalStackConfig(
        aws_port=free_port(),
        api_port=free_port(),
        stack_name=f"pulse-e2e-{uuid.uuid4().hex[:6]}",
        poll_interval=0.1,
        **options,
    )
    stack = LocalStack(config).start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    with running_stack(schedule_seconds=1.0) as stack:
        yield stack
