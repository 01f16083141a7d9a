"""Unzipped size of each function as deployed: its own build folder plus its layers (after `sam build`).

Lambda's limit is 250 MB unzipped including layers; our target is under 100 MB per function.
"""

from __future__ import annotations

import sys
from pathlib import Path

from infrastructure.template import ROOT, load_template

BUILD = ROOT / ".aws-sam" / "build"
TARGET_MB = 100.0


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def main() -> int:
    if not BUILD.exists():
        print("run `make build` first", file=sys.stderr)
        return 2
    template = load_template()
    resources = template["Resources"]
    global_layers = template.get("Globals", {}).get("Function", {}).get("Layers", [])
    worst = 0.0
    print(f"{'function':28} {'code MB':>8} {'layers MB':>10} {'total MB':>9}")
    for logical_id, spec in resources.items():
        if spec["Type"] != "AWS::Serverless::Function":
            continue
        layers = spec["Properties"].get("Layers", global_layers)
        code = folder_mb(BUILD / logical_id)
        layer_mb = sum(
            folder_mb(BUILD / layer["Ref"]) for layer in layers if isinstance(layer, dict) and "Ref" in layer
        )
        total = code + layer_mb
        worst = max(worst, total)
        print(f"{logical_id:28} {code:8.2f} {layer_mb:10.2f} {total:9.2f}")
    banned = [p for p in BUILD.rglob("*") if p.is_dir() and p.name in ("sklearn", "scipy", "pandas")]
    print(f"largest: {worst:.1f} MB (target < {TARGET_MB:.0f} MB); training libraries in the build: {len(banned)}")
    return 0 if worst < TARGET_MB and not banned else 1


if __name__ == "__main__":
    sys.exit(main())
