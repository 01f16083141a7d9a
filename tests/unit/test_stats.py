"""Experiment statistics against scipy (a test-only reference) and hand-computed cases, A/A
calibration by simulation, and the sample-ratio check."""

import math
import random

import numpy as np
import pytest
from scipy import stats as ref

from pulse.domain import stats
from pulse.domain.experiment_results import Totals, summarise


def test_normal_and_chi_square_tails_match_scipy() -> None:
    for z in (-3.0, -0.5, 0.0, 1.0, 1.96, 4.2):
        assert stats.normal_sf(z) == pytest.approx(ref.norm.sf(z), rel=1e-12, abs=1e-15)
    for df in range(1, 10):
        for x in (0.01, 0.5, 1.0, 3.84, 10.0, 30.0):
            assert stats.chi2_sf(x, df) == pytest.approx(ref.chi2.sf(x, df), rel=1e-9, abs=1e-15), (x, df)


def test_wilson_interval_by_hand() -> None:
    # 10 of 100: centre (0.1 + 1.92/100) / 1.0384, half 1.96 * sqrt(0.0009 + 0.000096) / 1.0384
    low, high = stats.wilson(10, 100)
    assert low == pytest.approx(0.05523, abs=1e-5) and high == pytest.approx(0.17437, abs=1e-5)
    assert stats.wilson(0, 0) == (0.0, 1.0)


def test_proportion_and_means_tests_match_scipy() -> None:
    x1, n1, x2, n2 = 120, 2000, 150, 2000
    pooled = (x1 + x2) / (n1 + n2)
    z = (x2 / n2 - x1 / n1) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    assert stats.proportion_test(x1, n1, x2, n2) == pytest.approx(2 * ref.norm.sf(abs(z)), rel=1e-12)
    rng = np.random.default_rng(3)
    a, b = rng.exponential(10, 5000), rng.exponential(10.5, 5000)
    ma = stats.Mean(len(a), float(a.sum()), float((a**2).sum()))
    mb = stats.Mean(len(b), float(b.sum()), float((b**2).sum()))
    assert ma.variance == pytest.approx(a.var(ddof=1), rel=1e-9)
    welch = ref.ttest_ind(b, a, equal_var=False)  # t with ~10,000 df: the normal's p to 3 digits
    assert stats.means_test(ma, mb) == pytest.approx(welch.pvalue, rel=2e-3)


def test_sample_ratio_check_matches_scipy_and_flags_a_broken_split() -> None:
    observed, weights = [5120, 4880], [1, 1]
    assert stats.sample_ratio_p(observed, weights) == pytest.approx(ref.chisquare(observed).pvalue, rel=1e-9)
    observed3 = [2600, 5000, 2400]
    expected = [2500, 5000, 2500]
    assert stats.sample_ratio_p(observed3, [1, 2, 1]) == pytest.approx(
        ref.chisquare(observed3, expected).pvalue, rel=1e-9
    )
    body = summarise("e", "a", [("a", 1), ("b", 1)], {"a": Totals(users=5300), "b": Totals(users=4700)})
    assert body["sample_ratio"]["mismatch"] and body["summary"].startswith("Sample ratio mismatch")
    fine = summarise("e", "a", [("a", 1), ("b", 1)], {"a": Totals(users=5030), "b": Totals(users=4970)})
    assert not fine["sample_ratio"]["mismatch"]


def test_lift_interval_by_delta_method() -> None:
    lift, low, high = stats.relative_lift(0.12, 0.004, 0.10, 0.004)  # type: ignore[misc]
    se = math.sqrt((0.004 / 0.12) ** 2 + (0.004 / 0.10) ** 2)
    assert lift == pytest.approx(0.2)
    assert low == pytest.approx(1.2 * math.exp(-1.959963984540054 * se) - 1)
    assert high == pytest.approx(1.2 * math.exp(1.959963984540054 * se) - 1)
    assert stats.relative_lift(0.1, 0.01, 0.0, 0.0) is None


def simulated(rng: random.Random, users: int, rate: float) -> Totals:
    exposures = users * 3
    clicks = sum(rng.random() < rate for _ in range(exposures))
    return Totals(users=users, exposures=exposures, clicks=clicks)


def test_a_thousand_a_a_experiments_flag_a_difference_five_percent_of_the_time() -> None:
    rng = random.Random(7)
    flagged = 0
    for _ in range(1000):
        body = summarise(
            "aa", "a", [("a", 1), ("b", 1)], {"a": simulated(rng, 300, 0.1), "b": simulated(rng, 300, 0.1)}
        )
        flagged += body["lifts"][0]["click_through_rate"]["p_value"] < 0.05
    assert 35 <= flagged <= 65, flagged  # 5 % +- 1.5 %


def test_the_sentence_says_who_wins_or_how_many_users_are_missing() -> None:
    a = Totals(users=4000, exposures=20000, clicks=2000, converters=400, revenue=8000.0, revenue_sq=400000.0)
    b = Totals(users=4000, exposures=20000, clicks=2400, converters=440, revenue=8400.0, revenue_sq=420000.0)
    body = summarise("e", "a", [("a", 1), ("b", 1)], {"a": a, "b": b})
    assert body["summary"].startswith("b beats a on click-through by +20.0 % [")
    figures = body["variants"][1]
    assert figures["click_through_rate"]["value"] == 0.12 and figures["conversion_rate"]["value"] == 0.11
    assert figures["revenue_per_user"]["value"] == 2.1
    small = summarise(
        "e",
        "a",
        [("a", 1), ("b", 1)],
        {"a": Totals(users=50, exposures=100, clicks=10), "b": Totals(users=50, exposures=100, clicks=11)},
    )
    assert "more users per variant are needed to detect a 5% lift" in small["summary"]
