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
SERVED = ROOT / "layers/core/pulse/http/openapi.json"  # what GET /swagger shows
FUNCTIONS = {
    "ApiFunction": "functions/api/app.py",
    "CollectorFunction": "functions/collector/app.py",
    "CatalogFunction": "functions/catalog/app.py",
}


def generate() -> dict[str, Any]:
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from infrastructure.functions import FunctionSpec, load_handler
    from pulse.http.spec import finalise, openapi_info

    merged: dict[str, Any] | None = None
    for logical_id, path in FUNCTIONS.items():
        spec = FunctionSpec(logical_id, logical_id, ROOT / path.rsplit("/", 1)[0], "app.lambda_handler", 3, 128, {})
        load_handler(spec)
        app = sys.modules[f"pulse_fn_{logical_id}"].app
        info = openapi_info()
        doc = json.loads(app.get_openapi_json_schema(**info))
        if merged is None:
            merged = doc
        else:
            merged["paths"].update(doc["paths"])
            merged.setdefault("components", {}).setdefault("schemas", {}).update(
                doc.get("components", {}).get("schemas", {})
            )
    assert merged is not None
    return finalise(merged)


def render() -> str:
    return json.dumps(generate(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    text = render()
    for path in (SPEC, SERVED):
        path.write_text(text)
        print(f"wrote {path}")
