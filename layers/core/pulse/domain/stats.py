"""The statistics of experiment results, in plain Python (the API function ships no scipy).

Normal approximations, as A/B tools use them: Wilson intervals for rates, pooled two-proportion z
tests, Welch's z for means, the delta method on the log of a ratio for relative lifts, and Pearson's
chi-square goodness-of-fit for the sample-ratio check. ``tests/unit/test_stats.py`` checks each against
scipy and statsmodels-style hand computations.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054  # two-sided 95 %
Z_POWER80 = 0.8416212335729143  # one-sided 80 % power


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def two_sided_p(z: float) -> float:
    return min(1.0, 2.0 * normal_sf(abs(z)))


def wilson(successes: float, trials: float) -> tuple[float, float]:
    """The 95 % Wilson score interval of a rate (its share capped at 1)."""
    if trials <= 0:
        return (0.0, 1.0)
    p = min(1.0, successes / trials)
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = Z95 * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return (max(0.0, centre - half), min(1.0, centre + half))


def proportion_test(x1: float, n1: float, x2: float, n2: float) -> float:
    """Two-sided p-value of the pooled two-proportion z test (1.0 when it cannot tell)."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    pooled = min(1.0, (x1 + x2) / (n1 + n2))
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    return two_sided_p((min(1.0, x2 / n2) - min(1.0, x1 / n1)) / se)


@dataclass(frozen=True)
class Mean:
    """A per-user mean from its sum and sum of squares over ``n`` users."""

    n: float
    total: float
    total_sq: float

    @property
    def value(self) -> float:
        return self.total / self.n if self.n > 0 else 0.0

    @property
    def variance(self) -> float:
        """The sample variance of one user's value."""
        if self.n < 2:
            return 0.0
        return max(0.0, (self.total_sq - self.n * self.value**2) / (self.n - 1))

    @property
    def se(self) -> float:
        return math.sqrt(self.variance / self.n) if self.n > 0 else 0.0

    def interval(self) -> tuple[float, float]:
        return (self.value - Z95 * self.se, self.value + Z95 * self.se)


def means_test(a: Mean, b: Mean) -> float:
    """Two-sided p-value of Welch's z for a difference of means (1.0 when it cannot tell)."""
    se = math.sqrt(a.se**2 + b.se**2)
    return two_sided_p((b.value - a.value) / se) if se > 0 else 1.0


def relative_lift(
    treatment: float, treatment_se: float, control: float, control_se: float
) -> tuple[float, float, float] | None:
    """(lift, low, high) of ``treatment / control - 1`` with a 95 % interval from the delta method on
    the log of the ratio; None when either value is 0 (no ratio to speak of)."""
    if treatment <= 0 or control <= 0:
        return None
    se = math.sqrt((treatment_se / treatment) ** 2 + (control_se / control) ** 2)
    log_ratio = math.log(treatment / control)
    return (math.exp(log_ratio) - 1, math.exp(log_ratio - Z95 * se) - 1, math.exp(log_ratio + Z95 * se) - 1)


def chi2_sf(x: float, df: int) -> float:
    """P(X > x) for a chi-square X with ``df`` degrees of freedom (closed forms for integer df)."""
    if x <= 0:
        return 1.0
    half = x / 2.0
    if df % 2 == 0:
        term = total = math.exp(-half)
        for i in range(1, df // 2):
            term *= half / i
            total += term
        return min(1.0, total)
    total = math.erfc(math.sqrt(half))
    term = math.exp(-half) * math.sqrt(half) / math.gamma(1.5)
    for i in range(1, (df + 1) // 2):
        total += term
        term *= half / (i + 0.5)
    return min(1.0, total)


def sample_ratio_p(observed: Sequence[float], weights: Sequence[float]) -> float:
    """p-value of Pearson's chi-square test that ``observed`` users follow the ``weights``."""
    n, w = sum(observed), sum(weights)
    if n <= 0 or len(observed) < 2:
        return 1.0
    stat = sum((o - n * wi / w) ** 2 / (n * wi / w) for o, wi in zip(observed, weights, strict=True))
    return chi2_sf(stat, len(observed) - 1)


def trials_for_lift(rate: float, lift: float = 0.05) -> float:
    """Trials per variant to detect a relative ``lift`` of a ``rate`` (two-sided 5 %, power 80 %)."""
    if not 0 < rate < 1:
        return math.inf
    other = min(rate * (1 + lift), 1.0)
    spread = rate * (1 - rate) + other * (1 - other)
    return (Z95 + Z_POWER80) ** 2 * spread / (other - rate) ** 2
