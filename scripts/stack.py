"""Where the operator commands (dead letters, backfill, resegment) find the stack's resources: a deployed
stack's outputs (``--stack``), else the functions' own environment variables, else the names the local
stack gives them (``make up``: ``<stack>-<logical id>``, stack ``pulse-local``)."""

from __future__ import annotations

import os

from pulse.adapters.aws import client

LOCAL_STACK = "pulse-local"  # LocalStackConfig.stack_name


def region() -> str:
    return os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))


def local_name(logical_id: str) -> str:
    """The local stack's name for a resource of the template (buckets aside, which are lower-cased)."""
    return f"{LOCAL_STACK}-{logical_id}"


def outputs(stack: str, in_region: str | None = None) -> dict[str, str]:
    """A deployed stack's outputs (``EventStreamName``, ``DeadLetterQueueUrl``, ``ProfilesTableName``...)."""
    cfn = client("cloudformation", in_region or region(), os.environ.get("AWS_ENDPOINT_URL"))
    found = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    return {o["OutputKey"]: o["OutputValue"] for o in found}


def event_stream(given: str | None = None) -> str:
    return given or os.environ.get("EVENT_STREAM") or local_name("EventStream")
