"""The promotion gate: figures in, a decision with its reason out."""

from __future__ import annotations

import pytest

from training.gate import decide

BASELINES = {"popularity": {"ndcg@10": 0.10}, "item-knn": {"ndcg@10": 0.20}, "ease": {"ndcg@10": 0.40}}


def test_a_candidate_below_a_baseline_is_refused_with_the_figures() -> None:
    decision = decide({"ndcg@10": 0.19}, BASELINES)
    assert not decision.promote
    assert "item-knn" in decision.reason and "0.1900" in decision.reason and "0.2000" in decision.reason
    assert decision.figures == {"candidate": 0.19, "popularity": 0.10, "item-knn": 0.20}


def test_equal_to_a_baseline_is_not_beating_it() -> None:
    assert not decide({"ndcg@10": 0.10}, {"popularity": {"ndcg@10": 0.10}, "item-knn": {"ndcg@10": 0.0}}).promote


def test_the_first_model_needs_only_to_beat_the_baselines() -> None:
    decision = decide({"ndcg@10": 0.25}, BASELINES)  # EASE is reported, not required
    assert decision.promote and "nothing is served yet" in decision.reason


@pytest.mark.parametrize(
    ("candidate", "margin", "promote"),
    [(0.31, 0.0, True), (0.30, 0.0, False), (0.29, 0.0, False), (0.306, 0.02, True), (0.305, 0.02, False)],
)
def test_the_served_version_must_be_beaten_by_the_margin(candidate: float, margin: float, promote: bool) -> None:
    decision = decide({"ndcg@10": candidate}, BASELINES, {"ndcg@10": 0.30}, "v1", margin=margin)
    assert decision.promote is promote
    assert decision.figures["served"] == 0.30 and decision.served_version == "v1"
    if not promote:
        assert "served v1" in decision.reason


def test_missing_figures_refuse_rather_than_guess() -> None:
    assert not decide({}, BASELINES).promote
    assert not decide({"ndcg@10": 0.5}, {"popularity": {"ndcg@10": 0.1}}).promote  # no item-kNN figure
    assert not decide({"ndcg@10": 0.5}, BASELINES, {"hr@10": 0.3}, "v1").promote  # served unscored
    with pytest.raises(ValueError, match="margin"):
        decide({"ndcg@10": 0.5}, BASELINES, margin=-0.1)


def test_a_served_version_with_no_newer_held_out_item_cannot_be_shown_worse() -> None:
    # the served version was fitted on every held-out interaction: no fair comparison exists
    decision = decide({"ndcg@10": 0.3}, {"popularity": {"ndcg@10": 0.1}, "item-knn": {"ndcg@10": 0.2}}, None, "v1")
    assert not decision.promote and "newer than the served v1" in decision.reason


def test_the_served_version_is_compared_on_the_items_it_was_not_fitted_on() -> None:
    baselines = {"popularity": {"ndcg@10": 0.1}, "item-knn": {"ndcg@10": 0.2}}
    # better overall, but not on the newer items where the served version can be judged
    decision = decide({"ndcg@10": 0.3}, baselines, {"ndcg@10": 0.25}, "v1", candidate_on_served={"ndcg@10": 0.24})
    assert not decision.promote and "0.2400 does not beat the served v1 (0.2500)" in decision.reason
    assert decision.figures["candidate_on_served_items"] == 0.24 and decision.figures["candidate"] == 0.3
    assert decide({"ndcg@10": 0.3}, baselines, {"ndcg@10": 0.25}, "v1", candidate_on_served={"ndcg@10": 0.26}).promote
