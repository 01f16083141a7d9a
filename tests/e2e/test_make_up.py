"""`make up` (`pulse up`): starts, says it is ready and where, answers, stays quiet while idle, stops on
Ctrl-C without a traceback; `make up AWS_PORT=... API_PORT=...` moves the ports."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from infrastructure.template import ROOT
from tests.e2e.conftest import free_port

PULSE = str(Path(sys.executable).with_name("pulse"))


def test_pulse_up_starts_prints_endpoints_answers_stays_quiet_and_stops_cleanly(tmp_path: Path) -> None:
    aws_port, api_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PULSE_LOCAL_STATE"] = str(tmp_path / "stack.json")
    proc = subprocess.Popen(
        [PULSE, "up", "--aws-port", str(aws_port), "--api-port", str(api_port), "--schedule-seconds", "1"],
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
        assert "in memory only" in output and "function logs:" in output  # restarting loses state: it says so
        assert (tmp_path / "stack.json").exists()  # where `pulse` commands find it
        response = requests.get(f"http://127.0.0.1:{api_port}/health", timeout=30)
        assert response.status_code == 200 and response.json()["status"] == "ok"
        time.sleep(3)  # the segment refresher fires every second meanwhile
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Traceback" not in output + rest
    assert "segments refreshed" not in rest  # quiet by default: function logs go to the file
    assert not (tmp_path / "stack.json").exists()


def test_make_up_passes_the_ports_on() -> None:
    dry = subprocess.run(
        ["make", "-n", "up", "AWS_PORT=5111", "API_PORT=3111"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "pulse up --aws-port 5111 --api-port 3111" in dry.stdout
