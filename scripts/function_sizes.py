"""Unzipped size of each function as deployed: its own build folder plus its layers (after `sam build`).

Lambda's limit is 250 MB unzipped including layers; our target is under 100 MB per function, except
the trainer (scipy and scikit-learn), which must stay under Lambda's limit. No other function may hold
a training library.
"""

from __future__ import annotations

import sys
from pathlib import Path

from infrastructure.template import ROOT, load_template

BUILD = ROOT / ".aws-sam" / "build"
TARGET_MB = 100.0
LAMBDA_LIMIT_MB = 250.0
TRAINER = "TrainerFunction"  # the one function allowed scipy and scikit-learn


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def main() -> int:
    if not BUILD.exists():
        print("run `make build` first", file=sys.stderr)
        return 2
    template = load_template()
    resources = template["Resources"]
    global_layers = template.get("Globals", {}).get("Function", {}).get("Layers", [])
    worst, over = 0.0, []
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
        limit = LAMBDA_LIMIT_MB if logical_id == TRAINER else TARGET_MB
        if logical_id != TRAINER:
            worst = max(worst, total)
        if total >= limit:
            over.append(logical_id)
        print(f"{logical_id:28} {code:8.2f} {layer_mb:10.2f} {total:9.2f}  (limit {limit:.0f})")
    banned = [
        p
        for p in BUILD.rglob("*")
        if p.is_dir() and p.name in ("sklearn", "scipy", "pandas") and TRAINER not in p.relative_to(BUILD).parts
    ]
    print(f"largest serving function: {worst:.1f} MB (target < {TARGET_MB:.0f} MB); over their limit: {over or 'none'}")
    print(f"training libraries outside the trainer: {len(banned)}")
    return 0 if not over and not banned else 1


if __name__ == "__main__":
    sys.exit(main())
