"""Popularity of today, read from the live counters (``pulse.domain.activity``), cached per window.

Each serving copy sums a window's buckets at most every ``POPULARITY_REFRESH_SECONDS``; between
refreshes a request reads the cached totals. A window that cannot be read keeps its last totals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pulse.domain.activity import Window
from pulse.ports import ActivityStore, TransientFailure

log = logging.getLogger(__name__)
KEPT = 5_000  # the most popular items a window keeps (enough for any page after filters)


@dataclass
class LivePopularity:
    store: ActivityStore
    refresh_seconds: float = 30.0
    clock: Callable[[], float] = time.time
    _cache: dict[str, tuple[float, dict[str, float]]] = field(default_factory=dict)

    def totals(self, window: Window) -> dict[str, float]:
        """Item id -> weighted interactions in the window, the ``KEPT`` most popular, best first."""
        now = self.clock()
        cached = self._cache.get(window.text)
        if cached is not None and now - cached[0] < self.refresh_seconds:
            return cached[1]
        try:
            raw = self.store.totals(window.buckets(now))
        except TransientFailure as exc:
            log.warning("live popularity of %s unreadable: %s", window.text, exc)
            return cached[1] if cached else {}
        best = dict(sorted(raw.items(), key=lambda kv: (-kv[1], kv[0]))[:KEPT])
        self._cache[window.text] = (now, best)
        return best
