"""A function's execution environment for the local stack (run as ``python -m infrastructure.worker``).

Reads one JSON event per line on stdin and answers one JSON line ``{"result": ...}`` or
``{"error": ...}`` on the original stdout. The handler's own prints and logs go to stderr, so they show
in the local stack's console like CloudWatch Logs would.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
from typing import Any

from infrastructure.functions import LambdaContext


def main() -> None:
    module_file, handler_name, name, timeout, memory = sys.argv[1:6]
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # everything the handler prints goes to stderr
    sys.stdout = os.fdopen(1, "w", buffering=1)
    spec = importlib.util.spec_from_file_location("app", module_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
    handler = getattr(module, handler_name)
    for line in sys.stdin:
        event: Any = json.loads(line)
        try:
            result = handler(event, LambdaContext(name, float(timeout), int(memory)))
            reply = {"result": result}
        except Exception as exc:  # noqa: BLE001  # Lambda reports any exception as a function error
            traceback.print_exc()
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        protocol.write(json.dumps(reply, default=str) + "\n")


if __name__ == "__main__":
    main()
