"""`make up` (python -m infrastructure.local_stack): starts, says it is ready, answers, stops on Ctrl-C."""

import os
import signal
import subprocess
import sys
import time

import requests

from infrastructure.template import ROOT
from tests.e2e.conftest import free_port


def test_local_stack_command_starts_prints_endpoints_answers_health_and_stops_cleanly() -> None:
    aws_port, api_port = free_port(), free_port()
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'layers' / 'core'}{os.pathsep}{ROOT}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "infrastructure.local_stack", "--aws-port", str(aws_port), "--api-port", str(api_port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "local stack ready" in line or not line:
                break
        output = "".join(lines)
        assert "local stack ready" in output, output
        assert f"http://127.0.0.1:{api_port}" in output and f"http://127.0.0.1:{aws_port}" in output
        assert "EventStreamName" in output and "ProfilesTableName" in output
        response = requests.get(f"http://127.0.0.1:{api_port}/health", timeout=30)
        assert response.status_code == 200 and response.json()["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
