"""Exponentially time-decayed scores that are exact in any arrival order.

Each score set stores the reference time its values are expressed at. An event at time ``t`` adds
``w * 2 ** (-(ref - t) / half_life)`` when it is older than the reference, or first moves the reference
forward to ``t`` (scaling every value down) when it is newer. Both paths compute the same value as
replaying the events in time order, so batches may arrive in any order.
"""

import math

from pydantic import BaseModel, Field


class DecayedScores(BaseModel):
    ref: float | None = None
    scores: dict[str, float] = Field(default_factory=dict)

    def add(self, key: str, weight: float, at: float, half_life: float, limit: int) -> None:
        if weight == 0.0:
            return
        if self.ref is None:
            self.ref = at
        elif at > self.ref:
            factor = math.exp2(-(at - self.ref) / half_life)
            self.scores = {k: v * factor for k, v in self.scores.items()}
            self.ref = at
        self.scores[key] = self.scores.get(key, 0.0) + weight * math.exp2(-(self.ref - at) / half_life)
        if len(self.scores) > limit:
            self.prune(limit)

    def prune(self, limit: int) -> None:
        """Keep the ``limit`` strongest signals (positive or negative); bounded profile size."""
        kept = sorted(self.scores.items(), key=lambda kv: (-abs(kv[1]), kv[0]))[:limit]
        self.scores = dict(kept)

    def at(self, when: float, half_life: float) -> dict[str, float]:
        """The scores as of ``when`` (decayed further if ``when`` is later than the reference)."""
        if self.ref is None or when <= self.ref:
            return dict(self.scores)
        factor = math.exp2(-(when - self.ref) / half_life)
        return {k: v * factor for k, v in self.scores.items()}

    def top(self, n: int, when: float | None = None, half_life: float = 1.0) -> list[tuple[str, float]]:
        values = self.scores if when is None else self.at(when, half_life)
        return sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
