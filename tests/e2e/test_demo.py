"""A short run of `make demo` on the local stack, asserting on what it measured."""

import pytest

from scripts.demo.__main__ import Demo, parse_args
from tests.e2e.conftest import free_port


@pytest.mark.slow
def test_short_demo_measures_real_time_effect(capfd: pytest.CaptureFixture[str]) -> None:
    args = parse_args(
        [
            "--max-users",
            "60",
            "--sample",
            "40",
            "--ab-sample",
            "60",
            "--trials",
            "5",
            "--aws-port",
            str(free_port()),
            "--api-port",
            str(free_port()),
            "--poll-interval",
            "0.1",
        ]
    )
    figures = Demo(args).run()
    out, err = capfd.readouterr()
    # no thread of the local stack (moto's server, pollers, workers) printed a traceback
    assert "Traceback" not in out + err, (out + err)[-3000:]
    assert "report:" in out and "\r" not in out  # progress reads as lines in a captured (non-terminal) output
    # profiles match what was sent
    assert figures["profiles"]["mismatches"] == 0 and 0 < figures["profiles"]["users"] <= 60
    # real-time hit rate through the live API beats profiles frozen at the cut-off
    replay = figures["replay"]
    assert replay["live/all"]["events"] == 40
    assert replay["live/all"]["hr@10"] > replay["frozen/all"]["hr@10"]
    # the A/B test: every answer counted as one exposure, every hit sent back as one click, per variant
    ab = figures["ab_test"]
    assert {v["name"] for v in ab["variants"]} == {"realtime", "popular", "frozen"}
    assert sum(v["exposures"] for v in ab["variants"]) == ab["asked"] and 0 < ab["asked"] <= 60
    assert sum(v["clicks"] for v in ab["variants"]) == ab["hits"] and ab["summary"]
    # the burst changes the top 10, and freshness was measured
    assert figures["showcase"]["before"] != figures["showcase"]["after"]
    assert figures["freshness_seconds"]["trials"] == 5 and figures["freshness_seconds"]["p95"] < 10
    # 150 clicks in 30 s: flagged for velocity wherever the burst falls against the clock minute
    assert {"high_velocity", "ad_clicks_without_impressions"} <= set(figures["audience"]["bot_risk"]["flags"])
    # the demo ends with the trainer function on the archive, which holds the history and the whole future
    retraining = figures["retraining"]
    assert retraining["status"] in ("promoted", "refused") and retraining["version"]
    assert retraining["events"] == retraining["sent"] > figures["profiles"]["events"]
    assert {"candidate", "popularity", "item-knn", "served"} <= set(retraining["figures"])
    assert "7. retraining on the archive" in out and retraining["reason"] in out
    # activation: a segment defined through the API filled from every profile; the cart abandoner's event
    segment = figures["activation"]["segment"]
    assert segment["status"] == "done" and 0 < segment["members"] <= segment["expected"]  # flagged users stay out
    cart = figures["activation"]["cart_abandoner"]
    assert cart["ms"] is not None and cart["detail"]["segment"] == "cart_abandoners"
