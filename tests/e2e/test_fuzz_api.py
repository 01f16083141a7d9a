"""Schemathesis fuzzes the local API (started with an API key) from the committed OpenAPI spec with
every check: no 5xx, every status and body as the spec documents, bad input refused, valid input
accepted, no route open without the key, 405 for undeclared methods."""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infrastructure.local_stack import LocalStack
from infrastructure.template import ROOT
from tests.e2e.conftest import running_stack
from tests.modelkit import publish_and_promote, tiny_model

KEY = "fuzz-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def keyed_stack() -> Iterator[LocalStack]:
    with running_stack(api_key=KEY) as stack:
        yield stack


@pytest.mark.slow
def test_schemathesis_finds_nothing_with_every_check(keyed_stack: LocalStack, tmp_path: Path) -> None:
    publish_and_promote(keyed_stack.client("s3"), keyed_stack.outputs()["ModelBucketName"], tiny_model(), "fuzz")
    st = Path(sys.executable).with_name("st")
    result = subprocess.run(
        [
            str(st),
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            str(ROOT / "openapi.json"),
            "--url",
            keyed_stack.api_url,
            "--header",
            f"x-api-key:{KEY}",
            "--checks",
            "all",
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
        cwd=tmp_path,
        env=dict(os.environ, SCHEMATHESIS_TELEMETRY="false"),
    )
    # failures first, without the long URLs of the reproduction commands
    report = "\n".join(line[:300] for line in result.stdout.splitlines() if "curl" not in line)
    (tmp_path / "schemathesis.txt").write_text(result.stdout)
    assert result.returncode == 0, report[-8000:]
