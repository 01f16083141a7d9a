"""A function of the template, in this process, against moto's in-process mock (benchmarks, tools)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from infrastructure.functions import FunctionSpec, load_handler
from infrastructure.template import Stack, load_template

Handler = Callable[[dict[str, Any], Any], Any]


@contextmanager
def function_on_moto(logical_id: str, stack_name: str = "bench") -> Iterator[tuple[FunctionSpec, Handler]]:
    """Create the template's resources in moto, set the function's environment, import its handler.
    On the way out, the segment definitions its wiring installed (read from moto's tables) are
    uninstalled: the process goes on with the built-in ones, not a table that is gone."""
    import boto3
    from moto import mock_aws

    from infrastructure import moto_speedups
    from infrastructure.functions import function_specs
    from infrastructure.resources import create_all
    from pulse.adapters import aws
    from pulse.config import get_settings
    from pulse.domain import segments

    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    moto_speedups.install()  # as the local stack does: the updater writes users concurrently
    with mock_aws():
        stack = Stack(load_template(), name=stack_name)
        create_all(stack, lambda s: boto3.client(s, region_name="us-east-1"))  # type: ignore[call-overload]
        spec = function_specs(stack)[logical_id]
        os.environ.update(spec.environment)
        get_settings.cache_clear()
        aws.client.cache_clear()
        try:
            yield spec, load_handler(spec)
        finally:
            segments.use_catalog(None)
