"""The promotion gate: a trained candidate is served only if it beats what is served and the classics.

All figures are NDCG@10 on held-out items of the candidate's log (each evaluated user's latest
interaction, never seen in fitting): the candidate's and the popularity and item-kNN baselines' fit on
the same items; the served version's, with its own artefacts, on those held-out interactions newer
than its own training data, and the candidate's again on those same items.
The candidate must be strictly above both baselines, and at least ``(1 + margin)`` times the served
version. The decision, with its figures and reason, is written into the version's manifest
(``gate``), so a refused version is published for inspection but never served without ``--force``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pulse.recommend.artifacts import RecModel

METRIC = "ndcg@10"
BASELINES = ("popularity", "item-knn")  # the classics a candidate must beat (EASE is reported, not required)


@dataclass(frozen=True)
class Gate:
    """Asks ``train`` for a decision: the served model (None when nothing is served) and the margin."""

    served: RecModel | None
    margin: float = 0.0


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    margin: float
    figures: dict[str, float] = field(default_factory=dict)  # candidate, baselines, served (NDCG@10)
    served_version: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _figure(figures: dict[str, Any] | None) -> float | None:
    try:
        return float(figures[METRIC]) if figures is not None else None
    except (KeyError, TypeError, ValueError):
        return None


def decide(
    candidate: dict[str, Any],
    baselines: dict[str, dict[str, Any]],
    served: dict[str, Any] | None = None,
    served_version: str | None = None,
    margin: float = 0.0,
    candidate_on_served: dict[str, Any] | None = None,
) -> GateDecision:
    """Promote or refuse, with the reason in words. ``served``: the served version's figures on held-out
    items it was not fitted on, and ``candidate_on_served`` the candidate's on those same items
    (default: ``candidate``); both None with a ``served_version``: no such item exists (refused)."""
    if margin < 0:
        raise ValueError("the gate's margin is a fraction >= 0 (0.02: 2 % better than the served version)")
    mine = _figure(candidate)
    figures: dict[str, float] = {"candidate": mine} if mine is not None else {}
    for name in BASELINES:
        if (value := _figure(baselines.get(name))) is not None:
            figures[name] = value
    theirs = _figure(served)
    if theirs is not None:
        figures["served"] = theirs
    mine_there = _figure(candidate_on_served) if candidate_on_served is not None else mine
    if mine_there is not None and candidate_on_served is not None:
        figures["candidate_on_served_items"] = mine_there

    def refuse(reason: str) -> GateDecision:
        return GateDecision(False, reason, margin, figures, served_version)

    if mine is None:
        return refuse(f"the candidate has no test {METRIC}")
    for name in BASELINES:
        if name not in figures:
            return refuse(f"the {name} baseline was not evaluated, so the candidate cannot be shown to beat it")
        if mine <= figures[name]:
            return refuse(f"{METRIC} {mine:.4f} does not beat the {name} baseline ({figures[name]:.4f})")
    if served is None and served_version is not None:
        return refuse(
            f"no held-out interaction is newer than the served {served_version}'s training data, so nothing "
            "shows the candidate is better than it"
        )
    if served is not None:
        if theirs is None or mine_there is None:
            return refuse(f"the served version {served_version} could not be scored on the held-out items")
        needed = theirs * (1 + margin)
        if mine_there <= theirs or mine_there < needed:  # strictly better, and by the margin
            return refuse(
                f"{METRIC} {mine_there:.4f} does not beat the served {served_version} ({theirs:.4f}) "
                f"by the margin {margin:.0%} (needs more than {theirs:.4f} and at least {needed:.4f})"
            )
        return GateDecision(
            True,
            f"{METRIC} {mine_there:.4f} beats the served {served_version} ({theirs:.4f}) and the baselines",
            margin,
            figures,
            served_version,
        )
    return GateDecision(True, f"{METRIC} {mine:.4f} beats the baselines; nothing is served yet", margin, figures)
