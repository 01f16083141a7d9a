"""A run's deadline, kept by a watchdog thread that never interrupts the run.

Lambda's timeout kills a function without a word, so a run must leave its record before it. The first
way this was done raised into the running thread from a SIGALRM handler; that can land while the thread
holds a lock (botocore's, urllib3's pool, logging's, moto's), and the record's own write then waits on
that lock for ever (a CI run hung there). Here a timer thread keeps the time instead: when the budget is
spent it calls ``on_expiry`` once (the run writes a "failed: out of time" record from there, even while
its thread is deep in a long computation), and the run stops itself at its next ``check``. ``commit``
marks the point of no return (publishing): after it the watchdog stays quiet, before it a spent budget
stops the run, so an expired run never publishes or promotes anything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType


class RunOutOfTime(BaseException):
    """The run would outlive its function's timeout: stopped so that its record is still written. A
    BaseException, like KeyboardInterrupt: a checkpoint may sit inside a step that handles its own
    errors with ``except Exception`` (reading the served model), which must not swallow it."""


class Deadline:
    """``with Deadline(seconds, on_expiry):`` around a run; ``None`` seconds: no deadline."""

    def __init__(self, seconds: float | None, on_expiry: Callable[[], None]) -> None:
        self.seconds = seconds
        self._on_expiry = on_expiry
        self._lock = threading.Lock()  # the watchdog's write and the run's commit or end never overlap
        self._expired = False
        self._settled = False  # committed or finished: the watchdog has nothing left to do
        self._started = time.monotonic()
        self._timer: threading.Timer | None = None

    def __enter__(self) -> Deadline:
        self._started = time.monotonic()
        if self.seconds is not None:
            self._timer = threading.Timer(max(self.seconds, 0.0), self._expire)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        with self._lock:  # waits for a write the watchdog has begun: the run's own record comes after it
            self._settled = True
        if self._timer is not None:
            self._timer.cancel()

    @property
    def expired(self) -> bool:
        return self._expired

    def check(self) -> None:
        """Raise ``RunOutOfTime`` once the budget is spent (a checkpoint between the run's steps)."""
        if self._expired:
            raise RunOutOfTime(f"stopped {time.monotonic() - self._started:.0f} s in, before the function's timeout")

    def commit(self) -> None:
        """The last checkpoint: from here the run finishes (publishes) whatever the time."""
        with self._lock:
            self.check()
            self._settled = True

    def _expire(self) -> None:
        with self._lock:
            if self._settled:
                return
            self._expired = True
            self._on_expiry()
