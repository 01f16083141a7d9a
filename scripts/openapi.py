"""Generate ``openapi.json`` from the code: the routes of every API function, merged (``make openapi``).

``tests/unit/test_openapi.py`` fails when the committed file and the code disagree.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from infrastructure.template import ROOT

SPEC = ROOT / "openapi.json"
FUNCTIONS = {"ApiFunction": "functions/api/app.py", "CollectorFunction": "functions/collector/app.py"}


def generate() -> dict[str, Any]:
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from infrastructure.functions import FunctionSpec, load_handler
    from pulse.http.errors import openapi_info

    merged: dict[str, Any] | None = None
    for logical_id, path in FUNCTIONS.items():
        spec = FunctionSpec(logical_id, logical_id, ROOT / path.rsplit("/", 1)[0], "app.lambda_handler", 3, 128, {})
        load_handler(spec)
        app = sys.modules[f"pulse_fn_{logical_id}"].app
        info = openapi_info()
        doc = json.loads(app.get_openapi_json_schema(**info))
        doc["paths"] = {p: v for p, v in doc["paths"].items() if not p.endswith("swagger")}
        if merged is None:
            merged = doc
        else:
            merged["paths"].update(doc["paths"])
            merged.setdefault("components", {}).setdefault("schemas", {}).update(
                doc.get("components", {}).get("schemas", {})
            )
    assert merged is not None
    merged["paths"] = dict(sorted(merged["paths"].items()))
    merged.setdefault("components", {})["schemas"] = dict(sorted(merged["components"].get("schemas", {}).items()))
    return merged


def render() -> str:
    return json.dumps(generate(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    SPEC.write_text(render())
    print(f"wrote {SPEC}")
