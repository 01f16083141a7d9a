"""Schemathesis fuzzes the local API from the committed OpenAPI spec: no input may produce a 5xx."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infrastructure.local_stack import LocalStack
from infrastructure.template import ROOT
from tests.modelkit import publish_and_promote, tiny_model


@pytest.mark.slow
def test_no_request_from_the_spec_gets_a_server_error(local_stack: LocalStack) -> None:
    publish_and_promote(local_stack.client("s3"), local_stack.outputs()["ModelBucketName"], tiny_model(), "fuzz")
    st = Path(sys.executable).with_name("st")
    result = subprocess.run(
        [
            str(st),
            "run",
            str(ROOT / "openapi.json"),
            "--url",
            local_stack.api_url,
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "25",
            "--workers",
            "2",
            "--seed",
            "1",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, SCHEMATHESIS_TELEMETRY="false"),
    )
    assert result.returncode == 0, result.stdout[-4000:]
