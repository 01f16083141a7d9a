"""Exponentially time-decayed scores that are exact in any arrival order, in O(1) per event.

Each score set stores a reference time ``ref``; a stored value ``s`` means ``s * 2 ** (-(when - ref) / h)``
at time ``when``. An event of weight ``w`` at time ``t`` adds ``w * 2 ** ((t - ref) / h)``, whatever
the order events arrive in, so the result equals replaying them in time order. When ``t`` runs far ahead
of ``ref`` the set is renormalised (``ref`` moves forward, values are scaled down) to keep floats in
range; that is the only O(n) step and it happens once per ``RENORMALISE_AFTER`` half-lives.
"""

import heapq
import math
from dataclasses import dataclass, field

RENORMALISE_AFTER = 64.0  # half-lives; 2**64 keeps ample float headroom
PRUNE_SLACK = 0.25  # prune to ``limit`` once 25 % over it: amortised O(1) per event


AT_LEAST_TOLERANCE = 1e-9  # relative: a float rounding, not a difference in behaviour


@dataclass(slots=True)
class DecayedScores:
    ref: float | None = None
    scores: dict[str, float] = field(default_factory=dict)

    def add(self, key: str, weight: float, at: float, half_life: float, limit: int) -> None:
        if weight == 0.0:
            return
        if self.ref is None:
            self.ref = at
        elif (at - self.ref) / half_life > RENORMALISE_AFTER:
            self._rebase(at, half_life)
        self.scores[key] = self.scores.get(key, 0.0) + weight * math.exp2((at - self.ref) / half_life)
        if len(self.scores) > limit + max(1, int(limit * PRUNE_SLACK)):
            self.prune(limit)

    def _rebase(self, at: float, half_life: float) -> None:
        ref = self.ref if self.ref is not None else at
        factor = math.exp2(-(at - ref) / half_life)
        self.scores = {k: v * factor for k, v in self.scores.items()}
        self.ref = at

    def prune(self, limit: int) -> None:
        """Keep the ``limit`` strongest signals (positive or negative): a bounded profile."""
        kept = heapq.nsmallest(limit, self.scores.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
        self.scores = dict(kept)

    def at(self, when: float, half_life: float) -> dict[str, float]:
        """The true scores as of ``when``."""
        if self.ref is None:
            return {}
        factor = math.exp2(-(when - self.ref) / half_life)
        return {k: v * factor for k, v in self.scores.items()}

    def top_at_least(self, n: int, minimum: float, when: float, half_life: float) -> list[tuple[str, float]]:
        """Those of the ``n`` strongest scores at ``when`` that are at least ``minimum`` (> 0), within
        ``AT_LEAST_TOLERANCE``: the same as filtering ``top``, but only the few scores above the bar are
        sorted (one pass, no heap). The tolerance makes a score that lands on the bar count the same
        whatever the reference time its rounding went through (that is, in any arrival order)."""
        if self.ref is None:
            return []
        factor = math.exp2(-(when - self.ref) / half_life)
        if factor == 0.0:  # ``when`` is so many half-lives later that every score decayed to nothing
            return []
        low = minimum * (1 - AT_LEAST_TOLERANCE)
        bar = low / factor * (1 - 1e-9)  # stored units; a hair lower still, the exact test is below
        if len(self.scores) > n:  # only those at or above the n-th largest value (ties kept) are sorted:
            # if it is under the bar, fewer than n pass the bar anyway
            bar = max(bar, sorted(self.scores.values(), reverse=True)[n - 1])  # C sort: a few dozen
        above = [(k, v) for k, v in self.scores.items() if v >= bar]
        above.sort(key=lambda kv: (-kv[1], kv[0]))
        return [(k, v * factor) for k, v in above[:n] if v * factor >= low]

    def top(self, n: int, when: float, half_life: float) -> list[tuple[str, float]]:
        if self.ref is None:
            return []
        factor = math.exp2(-(when - self.ref) / half_life)
        best = heapq.nsmallest(n, self.scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(k, v * factor) for k, v in best]
