"""Live popularity: what users did with each item, counted per hour and per day.

The profile updater tallies every event it applied (once: duplicates and re-delivered records are
skipped before they get here) into hour and day buckets of the event's own time, weighted by how much
the event says "I like this" (``profile.signal_weight``; negative signals count nothing). Serving sums
the buckets of a window (``1h`` to ``48h`` from hour buckets, ``1d`` to ``30d`` from day buckets; the
current, partial bucket included) into a popularity of today, independent of any trained model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pulse.domain.events import BehaviorEvent
from pulse.domain.profile import signal_weight

MINUTE, HOUR, DAY = 60, 3600, 86400
MAX_HOURS, MAX_DAYS = 48, 30
HOUR_RETENTION = (MAX_HOURS + 2) * HOUR  # rows expire (DynamoDB TTL) once no window can reach them
DAY_RETENTION = (MAX_DAYS + 2) * DAY
DEFAULT_WINDOW = "7d"  # /popular without a model, and the popularity behind model-less answers
WINDOW_PATTERN = r"^(?:(?:[1-9]|[1-3][0-9]|4[0-8])h|(?:[1-9]|[12][0-9]|30)d)$"  # 1h-48h, 1d-30d
_WINDOW = re.compile(WINDOW_PATTERN)


class InvalidWindow(ValueError):
    pass


@dataclass(frozen=True)
class Window:
    count: int
    unit: str  # "h" or "d"

    @property
    def text(self) -> str:
        return f"{self.count}{self.unit}"

    def buckets(self, now: float) -> list[str]:
        """The buckets the window sums, newest first (the current one is partial)."""
        size = HOUR if self.unit == "h" else DAY
        newest = int(now // size)
        return [f"{self.unit}{index}" for index in range(newest, newest - self.count, -1)]


def parse_window(text: str) -> Window:
    """``1h``-``48h`` or ``1d``-``30d``; anything else is an ``InvalidWindow`` that says so."""
    if not _WINDOW.match(text):
        raise InvalidWindow(f"window {text!r}: a number of hours (1h-{MAX_HOURS}h) or days (1d-{MAX_DAYS}d)")
    count, unit = int(text[:-1]), text[-1]
    if count > (MAX_HOURS if unit == "h" else MAX_DAYS):
        raise InvalidWindow(f"window {text!r}: at most {MAX_HOURS}h or {MAX_DAYS}d")
    return Window(count, unit)


@dataclass
class Tally:
    weight: float = 0.0
    events: int = 0
    expires_at: int = 0


def tally(events: Iterable[BehaviorEvent], now: float) -> dict[tuple[str, str], Tally]:
    """(bucket, item id) -> what these applied events add there. Events too old for any window, and
    signals that say "not this" (dislikes, removals, ignored ads, low ratings), add nothing."""
    out: dict[tuple[str, str], Tally] = {}
    for event in events:
        weight = signal_weight(event)
        if event.item_id is None or weight <= 0:
            continue
        for unit, size, retention in (("h", HOUR, HOUR_RETENTION), ("d", DAY, DAY_RETENTION)):
            start = int(event.timestamp // size) * size
            if start + retention <= now:
                continue
            row = out.setdefault((f"{unit}{start // size}", event.item_id), Tally())
            row.weight += weight
            row.events += 1
            row.expires_at = start + retention
    return out


# The updater's throughput, per minute of processing time (the console's overview): one row per minute
# bucket (``m<minute>``, which no popularity window reads) whose attributes count what batches did.
THROUGHPUT = ("events", "profiles", "dead_letters")
THROUGHPUT_ROW = "#updater"
THROUGHPUT_RETENTION = DAY


def minute_buckets(now: float, minutes: int) -> list[str]:
    """The last ``minutes`` minute buckets, oldest first (the current, partial one last)."""
    newest = int(now // MINUTE)
    return [f"m{index}" for index in range(newest - minutes + 1, newest + 1)]
