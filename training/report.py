"""``python -m training evaluate``: both protocols, baselines, a Markdown report with PNG charts and a
JSON file with every figure. Every ranking comes from the served scorer."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pulse.domain.events import BehaviorEvent
from pulse.recommend.artifacts import load_model
from training.evaluation import protocol_b, split_by_time
from training.train import manifest_for, train


def _float(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _float(v) for k, v in value.items()}
    try:
        return round(float(value), 4)
    except (TypeError, ValueError):
        return value


def evaluate(events: list[BehaviorEvent], out: Path, sample: int | None = None, say: Any = print) -> dict[str, Any]:
    started = time.perf_counter()
    say("protocol A: leave-last-one-out on the whole log")
    full = train(events, say=say)
    say("protocol B: train on the first 80 % by time, replay the rest")
    history, future = split_by_time(events)
    prefix = train(history, say=lambda _: None)
    model = load_model("protocol-b", json.dumps(manifest_for("protocol-b", prefix)).encode(), prefix.files)
    streaming = protocol_b(model, history, future, sample=sample)
    figures = {
        "protocol_a": _float(full.metrics["protocol_a"]),
        "protocol_b": _float(streaming),
        "cold_start_first_event_hr@10": _float(full.metrics["cold_start_first_event_hr@10"]),
        "cold_start_served": full.metrics["cold_start_served"],
        "ranker_served": full.metrics["ranker_served"],
        "diversity_cap": full.metrics["diversity_cap"],
        "params": full.params.__dict__,
        "training_seconds": full.manifest_info["training_seconds"],
        "evaluation_seconds": round(time.perf_counter() - started, 1),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(figures, indent=1))
    charts = _charts(figures, out)
    (out / "report.md").write_text(_markdown(figures, charts))
    say(f"report: {out / 'report.md'}")
    return figures


def _charts(figures: dict[str, Any], out: Path) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # charts are optional; the figures are in metrics.json
        return []
    a = figures["protocol_a"]
    names = ["served", *a["baselines"]]
    values = [a["test"]["hr@10"]] + [a["baselines"][n]["hr@10"] for n in a["baselines"]]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.bar(names, values, color=["#1f77b4"] + ["#aaaaaa"] * (len(names) - 1))
    ax.set_ylabel("HR@10")
    ax.set_title("Protocol A (next item, MovieLens-100K)")
    fig.tight_layout()
    fig.savefig(out / "protocol_a_hr.png", dpi=110)
    plt.close(fig)
    b = figures["protocol_b"]
    groups = ["all", "warm", "cold"]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for offset, mode in enumerate(("realtime", "frozen", "popularity")):
        ax.bar(
            [g + offset * 0.27 for g in range(3)], [b[f"{mode}/{g}"]["hr@10"] for g in groups], width=0.27, label=mode
        )
    ax.set_xticks([g + 0.27 for g in range(3)], groups)
    ax.set_ylabel("HR@10")
    ax.set_title("Protocol B (streaming replay of the last 20 %)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "protocol_b_hr.png", dpi=110)
    plt.close(fig)
    return ["protocol_a_hr.png", "protocol_b_hr.png"]


def _markdown(figures: dict[str, Any], charts: list[str]) -> str:
    a, b = figures["protocol_a"], figures["protocol_b"]
    lines = [
        "# Offline evaluation",
        "",
        "## Protocol A: next item (leave-last-one-out, all items ranked)",
        "",
        "| model | HR@10 | NDCG@10 | MRR@10 | coverage@10 |",
        "|---|---|---|---|---|",
    ]
    rows = [(f"served ({figures['ranker_served']} ranker)", a["test"]), *list(a["baselines"].items())]
    for name, f in rows:
        lines.append(f"| {name} | {f['hr@10']} | {f['ndcg@10']} | {f.get('mrr@10', '')} | {f.get('coverage@10', '')} |")
    lines += [
        "",
        "## Protocol B: streaming (train on the first 80 % by time, replay the rest)",
        "",
        "| profiles | all HR@10 | all NDCG@10 | warm HR@10 | cold HR@10 |",
        "|---|---|---|---|---|",
    ]
    for mode in ("realtime", "frozen", "popularity"):
        lines.append(
            f"| {mode} | {b[f'{mode}/all']['hr@10']} | {b[f'{mode}/all']['ndcg@10']} | "
            f"{b[f'{mode}/warm']['hr@10']} | {b[f'{mode}/cold']['hr@10']} |"
        )
    cold = figures["cold_start_first_event_hr@10"]
    lines += [
        "",
        "Every row leaves out the items the user has interacted with so far, frozen profiles included: "
        "the rows differ only in how they rank.",
        "",
        f"Cold start (a user's first event): segment popularity HR@10 {cold['segment']}, global "
        f"popularity {cold['global']}; served: **{figures['cold_start_served']}**.",
        "",
        f"Chosen parameters: `{json.dumps(figures['params'])}`; diversity cap {figures['diversity_cap']}; "
        f"validation of the chosen configuration: HR@10 {a['validation']['hr@10']}, "
        f"NDCG@10 {a['validation']['ndcg@10']}.",
        "",
    ]
    lines += [f"![{c}]({c})" for c in charts]
    return "\n".join(lines) + "\n"
