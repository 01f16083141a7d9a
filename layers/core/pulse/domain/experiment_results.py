"""An experiment's results from its counters: rates with intervals, lifts, the sample-ratio check, and
a sentence that says what they mean.

Metrics (contract section 3d):
- click-through rate: clicks per exposure (each answer shown is a trial);
- conversion rate: the share of exposed users with at least one conversion (add to cart or purchase);
- revenue per exposed user: purchases' value x quantity over exposed users, with the per-user
  spread from the sum of squares the updater keeps exactly.
The click-through rate counts exposures as independent trials: a user shown many answers weighs more,
and its interval is somewhat narrower than a user-level one. Conversion and revenue are per user.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from pulse.domain import stats

SIGNIFICANCE = 0.05
SRM_THRESHOLD = 0.001
TARGET_LIFT = 0.05


@dataclass
class Totals:
    """A variant's counters summed over shards and days."""

    users: float = 0
    exposures: float = 0
    clicks: float = 0
    clickers: float = 0
    conversions: float = 0
    converters: float = 0
    revenue: float = 0.0
    revenue_sq: float = 0.0

    def add(self, counters: Mapping[str, float]) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + float(counters.get(f.name, 0) or 0))

    @property
    def ctr(self) -> float:
        return min(1.0, self.clicks / self.exposures) if self.exposures else 0.0

    @property
    def conversion_rate(self) -> float:
        return self.converters / self.users if self.users else 0.0

    @property
    def revenue_per_user(self) -> stats.Mean:
        return stats.Mean(self.users, self.revenue, self.revenue_sq)


def _rate_se(rate: float, n: float) -> float:
    return (rate * (1 - rate) / n) ** 0.5 if n > 0 else 0.0


def _pct(x: float) -> str:
    return f"{x * 100:+.1f} %"


def _lift(value: float, se: float, base: float, base_se: float, p: float) -> dict[str, Any]:
    lift = stats.relative_lift(value, se, base, base_se)
    if lift is None:
        return {"lift": None, "low": None, "high": None, "p_value": round(p, 6)}
    return {"lift": round(lift[0], 6), "low": round(lift[1], 6), "high": round(lift[2], 6), "p_value": round(p, 6)}


def compare(control: Totals, other: Totals) -> dict[str, dict[str, Any]]:
    """Each metric's relative lift of ``other`` over ``control`` with its interval and p-value."""
    ctr_p = stats.proportion_test(control.clicks, control.exposures, other.clicks, other.exposures)
    conv_p = stats.proportion_test(control.converters, control.users, other.converters, other.users)
    a, b = control.revenue_per_user, other.revenue_per_user
    ctr_se, base_se = _rate_se(other.ctr, other.exposures), _rate_se(control.ctr, control.exposures)
    return {
        "click_through_rate": _lift(other.ctr, ctr_se, control.ctr, base_se, ctr_p),
        "conversion_rate": _lift(
            other.conversion_rate,
            _rate_se(other.conversion_rate, other.users),
            control.conversion_rate,
            _rate_se(control.conversion_rate, control.users),
            conv_p,
        ),
        "revenue_per_user": _lift(b.value, b.se, a.value, a.se, stats.means_test(a, b)),
    }


def variant_figures(name: str, weight: float, t: Totals) -> dict[str, Any]:
    low, high = stats.wilson(t.clicks, t.exposures)
    clow, chigh = stats.wilson(t.converters, t.users)
    rev = t.revenue_per_user
    rlow, rhigh = rev.interval()
    return {
        "name": name,
        "weight": weight,
        "users": int(t.users),
        "exposures": int(t.exposures),
        "clicks": int(t.clicks),
        "clickers": int(t.clickers),
        "conversions": int(t.conversions),
        "converters": int(t.converters),
        "revenue": round(t.revenue, 2),
        "click_through_rate": {"value": round(t.ctr, 6), "low": round(low, 6), "high": round(high, 6)},
        "conversion_rate": {"value": round(t.conversion_rate, 6), "low": round(clow, 6), "high": round(chigh, 6)},
        "revenue_per_user": {"value": round(rev.value, 4), "low": round(rlow, 4), "high": round(rhigh, 4)},
    }


def _verdict(control: str, name: str, c: Totals, t: Totals, lift: dict[str, Any]) -> str:
    p = lift["p_value"]
    if not c.exposures or not t.exposures:
        return f"{name} against {control}: no exposures yet."
    if p < SIGNIFICANCE and lift["lift"] is not None:
        verb = "beats" if lift["lift"] > 0 else "trails"
        return (
            f"{name} {verb} {control} on click-through by {_pct(lift['lift'])} "
            f"[{_pct(lift['low'])}, {_pct(lift['high'])}] (p = {p:.3g})."
        )
    base = c.ctr if c.ctr > 0 else t.ctr
    per_user = max(c.exposures / c.users if c.users else 1.0, 1.0)
    needed = stats.trials_for_lift(base, TARGET_LIFT) / per_user
    more = needed - min(c.users, t.users)
    if more == float("inf"):
        return f"{name} against {control}: no clicks yet, so no difference can be told."
    return (
        f"{name} against {control}: no significant difference in click-through yet (p = {p:.3g}); "
        f"about {max(0, int(more)):,} more users per variant are needed to detect a {TARGET_LIFT:.0%} lift."
    )


def summarise(
    experiment_id: str, control: str, variants: Sequence[tuple[str, float]], totals: Mapping[str, Totals]
) -> dict[str, Any]:
    """The body of ``GET /experiments/{id}/results``."""
    control_totals = totals.get(control, Totals())
    rows, lifts, sentences = [], [], []
    for name, weight in variants:
        t = totals.get(name, Totals())
        rows.append(variant_figures(name, weight, t))
        if name != control:
            lift = compare(control_totals, t)
            lifts.append({"variant": name, "against": control} | lift)
            sentences.append(_verdict(control, name, control_totals, t, lift["click_through_rate"]))
    users = [totals.get(name, Totals()).users for name, _ in variants]
    srm_p = stats.sample_ratio_p(users, [w for _, w in variants])
    mismatch = srm_p < SRM_THRESHOLD
    if mismatch:
        split = " / ".join(f"{int(u):,}" for u in users)
        sentences.insert(
            0,
            f"Sample ratio mismatch: users split {split} against weights "
            f"{' / '.join(f'{w:g}' for _, w in variants)} (p = {srm_p:.2g}); the figures cannot be trusted "
            "until the cause is found.",
        )
    return {
        "experiment_id": experiment_id,
        "control": control,
        "variants": rows,
        "lifts": lifts,
        "sample_ratio": {"p_value": round(srm_p, 8), "mismatch": mismatch, "threshold": SRM_THRESHOLD},
        "summary": " ".join(sentences) if sentences else "No exposures yet.",
    }
