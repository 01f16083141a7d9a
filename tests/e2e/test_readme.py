"""The README's tour runs as written against a live local stack (only the API's port differs), and
its commands for a deployed stack never send the local endpoint or moto's keys to AWS."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from infrastructure.template import ROOT
from tests.e2e.conftest import running_stack

README = (ROOT / "README.md").read_text()


def shell_blocks(section: str) -> list[str]:
    """The ```bash blocks of one ``## section`` of the README."""
    start = README.index(f"## {section}\n")
    end = README.find("\n## ", start + 1)
    return re.findall(r"```bash\n(.*?)```", README[start : end if end > 0 else None], re.S)


def test_the_tour_runs_as_written_on_a_local_stack(tmp_path: Path) -> None:
    [tour] = shell_blocks("A five-minute tour")
    state = tmp_path / "stack.json"
    with running_stack(state_file=state, parameters={"ModelRefreshSeconds": "2"}) as stack:
        script = tour.replace("API=http://127.0.0.1:3000", f"API={stack.api_url}")
        assert script != tour  # the tour names the API once, as `make up` serves it
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env |= {"PULSE_LOCAL_STATE": str(state), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"}
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    output = done.stdout
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    assert '"error"' not in output.replace('"model_unavailable"', ""), output[-3000:]
    assert '"accepted":3' in output and '"user_id":"alice"' in output
    assert '"reasons":' in output and "promoted" in output and "gate: " in output  # the decision shown
    assert output.rstrip().endswith("204\n404")  # erased, then gone
