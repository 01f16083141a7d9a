"""Step 7: the report (Markdown with PNG charts) in ``reports/demo/``."""

from __future__ import annotations

import json
from pathlib import Path

from scripts.demo.session import OUT, Session


def report(d: Session) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "demo.json").write_text(json.dumps(d.figures, indent=1))
    charts = []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        r = d.figures["replay"]
        names = ["live API", "in-process", "frozen", "popularity"]
        keys = ["live/all", "realtime/all", "frozen/all", "popularity/all"]
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.bar(names, [r[k]["hr@10"] for k in keys], color=["#1f77b4", "#6baed6", "#aaaaaa", "#cccccc"])
        ax.set_ylabel("HR@10")
        ax.set_title("Replay of the last 20 %: hit rate by model")
        fig.tight_layout()
        fig.savefig(OUT / "hit_rate.png", dpi=110)
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.hist([s * 1000 for s in d.figures["freshness_seconds"]["samples"]], bins=20, color="#1f77b4")
        ax.set_xlabel("PutRecords accepted -> changed answer (ms)")
        ax.set_ylabel("trials")
        fig.tight_layout()
        fig.savefig(OUT / "freshness.png", dpi=110)
        plt.close(fig)
        aff = d.figures["showcase"]["affinities"]
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.barh(list(aff)[::-1], list(aff.values())[::-1], color="#1f77b4")
        ax.set_title(f"user {d.figures['showcase']['user']}: decayed genre affinities after the burst")
        fig.tight_layout()
        fig.savefig(OUT / "affinities.png", dpi=110)
        plt.close(fig)
        charts = ["hit_rate.png", "freshness.png", "affinities.png"]
    except ImportError:
        pass
    r, f, s = d.figures["replay"], d.figures["freshness_seconds"], d.figures["showcase"]
    lines = [
        "# Pulse demo on MovieLens-100K",
        "",
        "| replay (same sampled events) | HR@10 | NDCG@10 | warm HR@10 | cold HR@10 |",
        "|---|---|---|---|---|",
    ]
    for label, prefix in (
        ("real-time, live API", "live"),
        ("real-time, in-process", "realtime"),
        ("frozen at cut-off", "frozen"),
        ("popularity", "popularity"),
    ):
        lines.append(
            f"| {label} | {r[prefix + '/all']['hr@10']:.3f} | {r[prefix + '/all']['ndcg@10']:.3f} | "
            f"{r[prefix + '/warm']['hr@10']:.3f} | {r[prefix + '/cold']['hr@10']:.3f} |"
        )
    lines += [
        "",
        f"Freshness over {f['trials']} trials: p50 {f['p50'] * 1000:.0f} ms, p95 {f['p95'] * 1000:.0f} ms.",
        "",
        f"Showcase: user {s['user']}, burst in {s['genre']}: the answer changed after "
        f"{s['changed_after_ms']:.0f} ms; {s['genre']} items in the top 10: {s['genre_share_before']} -> "
        f"{s['genre_share_after']}.",
        "",
    ] + [f"![{c}]({c})" for c in charts]
    (OUT / "report.md").write_text("\n".join(lines) + "\n")
    return OUT / "report.md"
