"""Step 7: the report (Markdown with PNG charts) in ``reports/demo/``, written for a person: bars carry
their values and sample sizes, the showcase's affinities are shown before and after the burst."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scripts.demo.session import OUT, Session

BLUE, PALE, GREY, LIGHT, BURST = "#1f77b4", "#6baed6", "#aaaaaa", "#cccccc", "#d62728"


def _hit_rate_chart(plt: Any, r: dict[str, Any]) -> None:
    names = ["live API", "in-process", "frozen", "popularity"]
    keys = ["live/all", "realtime/all", "frozen/all", "popularity/all"]
    values = [r[k]["hr@10"] for k in keys]
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    bars = ax.bar(names, values, color=[BLUE, PALE, GREY, LIGHT])
    ax.bar_label(bars, labels=[f"{v:.3f}" for v in values], padding=2)
    ax.set_ylim(0, max(values) * 1.25 or 1)
    ax.set_ylabel("HR@10")
    ax.set_title(f"Next interaction in the top 10 (n = {r['live/all']['events']} interactions, same for each)")
    fig.tight_layout()
    fig.savefig(OUT / "hit_rate.png", dpi=110)
    plt.close(fig)


def _freshness_chart(plt: Any, f: dict[str, Any]) -> None:
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    ax.hist([s * 1000 for s in f["samples"]], bins=20, color=BLUE)
    ax.axvline(f["p50"] * 1000, color="black", linestyle="--", label=f"p50 {f['p50'] * 1000:.0f} ms")
    ax.axvline(f["p95"] * 1000, color=GREY, linestyle=":", label=f"p95 {f['p95'] * 1000:.0f} ms")
    ax.set_xlabel("PutRecords accepted -> changed answer (ms)")
    ax.set_ylabel(f"trials (n = {f['trials']})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "freshness.png", dpi=110)
    plt.close(fig)


def _affinity_chart(plt: Any, s: dict[str, Any]) -> None:
    before, after = s["affinities_before"], s["affinities"]
    genres = sorted(set(before) | set(after), key=lambda g: -max(before.get(g, 0.0), after.get(g, 0.0)))[:10]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, values, title, colour in ((axes[0], before, "before", GREY), (axes[1], after, "after", BLUE)):
        shown = [values.get(g, 0.0) for g in genres][::-1]
        bars = ax.barh(genres[::-1], shown, color=[BURST if g == s["genre"] else colour for g in genres[::-1]])
        ax.bar_label(bars, labels=[f"{v:.1f}" for v in shown], padding=2, fontsize=8)
        ax.set_title(f"{title} the burst of {s['genre']} ratings")
        ax.set_xlim(0, max([*before.values(), *after.values(), 1.0]) * 1.2)
    fig.suptitle(f"user {s['user']}: decayed genre affinities (the dataset's clock)")
    fig.tight_layout()
    fig.savefig(OUT / "affinities.png", dpi=110)
    plt.close(fig)


def _ab_chart(plt: Any, ab: dict[str, Any]) -> None:
    rows = ab["variants"]
    names = [v["name"] for v in rows]
    values = [v["click_through_rate"]["value"] for v in rows]
    errors = [
        [v - r["click_through_rate"]["low"] for v, r in zip(values, rows, strict=True)],
        [r["click_through_rate"]["high"] - v for v, r in zip(values, rows, strict=True)],
    ]
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    bars = ax.bar(names, values, yerr=errors, capsize=6, color=[BLUE if n == "realtime" else GREY for n in names])
    ax.bar_label(bars, labels=[f"{v:.3f}\nn={r['exposures']}" for v, r in zip(values, rows, strict=True)], padding=8)
    ax.set_ylim(0, max(r["click_through_rate"]["high"] for r in rows) * 1.3 or 1)
    ax.set_ylabel("click-through (hits) per answer")
    ax.set_title(f"A/B test {ab['experiment_id']}: 95 % intervals, counted by the product")
    fig.tight_layout()
    fig.savefig(OUT / "ab_test.png", dpi=110)
    plt.close(fig)


def _ab_lines(ab: dict[str, Any]) -> list[str]:
    lines = [
        f"A/B test `{ab['experiment_id']}` through the experiment routes ({ab['asked']} answers, {ab['hits']} hits "
        "sent back as clicks carrying the answer's `recommendation_id`; figures from `GET /experiments/{id}/results`):",
        "",
        "| variant | users | exposures | clicks | click-through [95 %] | lift over control [95 %] | p |",
        "|---|---|---|---|---|---|---|",
    ]
    lifts = {x["variant"]: x["click_through_rate"] for x in ab["lifts"]}
    for v in ab["variants"]:
        c, lift = v["click_through_rate"], lifts.get(v["name"])
        shown = "control"
        if lift is not None:
            shown = "n/a" if lift["lift"] is None else f"{lift['lift']:+.0%} [{lift['low']:+.0%}, {lift['high']:+.0%}]"
        p = "" if lift is None else f"{lift['p_value']:.2g}"
        lines.append(
            f"| {v['name']} | {v['users']} | {v['exposures']} | {v['clicks']} | "
            f"{c['value']:.3f} [{c['low']:.3f}, {c['high']:.3f}] | {shown} | {p} |"
        )
    sample = "mismatch" if ab["sample_ratio"]["mismatch"] else "fine"
    return [*lines, "", f"{ab['summary']} Sample ratio: {sample} (p = {ab['sample_ratio']['p_value']:.2g}).", ""]


def report(d: Session) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "demo.json").write_text(json.dumps(d.figures, indent=1))
    r, f, s = d.figures["replay"], d.figures["freshness_seconds"], d.figures["showcase"]
    charts = []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        _hit_rate_chart(plt, r)
        _freshness_chart(plt, f)
        _affinity_chart(plt, s)
        charts = ["hit_rate.png", "freshness.png", "affinities.png"]
        if "ab_test" in d.figures:
            _ab_chart(plt, d.figures["ab_test"])
            charts.insert(1, "ab_test.png")
    except ImportError:
        pass
    slow = [x for x in f["samples"] if x > 1.0]
    lines = [
        "# Pulse demo on MovieLens-100K",
        "",
        "Each row answers the same question for the same interactions: before a user's next rating after",
        "the cut-off, is that film in the top 10 the model offers? *Warm* users rated films before the",
        "cut-off (the model and their profile know them); *cold* users first appear after it, so only",
        "what they did since, applied in real time, can personalise their answer.",
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
        f"n = {r['live/all']['events']} interactions ({r['live/warm']['events']} warm, "
        f"{r['live/cold']['events']} cold).",
        "",
        f"Freshness over {f['trials']} trials (PutRecords accepted until the answer changed): p50 "
        f"{f['p50'] * 1000:.0f} ms, p95 {f['p95'] * 1000:.0f} ms, maximum {max(f['samples']) * 1000:.0f} ms; "
        f"{len(slow)} of {f['trials']} took over 1 s.",
        "",
        f"Showcase: user {s['user']}, a burst of {s['genre']} ratings stamped just after their last event: "
        f"the answer changed after {s['changed_after_ms']:.0f} ms; {s['genre']} items in the top 10: "
        f"{s['genre_share_before']} -> {s['genre_share_after']}.",
        "",
    ]
    if "ab_test" in d.figures:
        lines += _ab_lines(d.figures["ab_test"])
    t = d.figures.get("retraining")
    if t:
        shown = ", ".join(f"{name} {value:.4f}" for name, value in t["figures"].items())
        lines += [
            f"Retraining on the archive ({t['events']:,} events, {t['seconds']} s): **{t['status']}**: {t['reason']}. "
            f"NDCG@10 on the same held-out items: {shown or 'none'}. Serving: {t['served_after']}.",
            "",
        ]
    a = d.figures.get("activation")
    if a:
        s_, c_ = a["segment"], a["cart_abandoner"]
        lines += [
            f"Activation: `PUT /segments/students` (occupation == student) filled from the existing profiles by "
            f"the refresher's background pass in {s_['seconds']} s: {s_['members']} members of the {s_['expected']} "
            "students streamed (risk-flagged users stay out of marketing segments). A user who left a cart for two "
            f"hours entered `cart_abandoners`; the event reached a queue on the bus {c_['ms']} ms after `PutRecords`.",
            "",
        ]
    lines += [f"![{c}]({c})" for c in charts]
    (OUT / "report.md").write_text("\n".join(lines) + "\n")
    return OUT / "report.md"
