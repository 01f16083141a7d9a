"""Keeping the cyclic garbage collector off the objects a Lambda container keeps for its whole life.

A function's modules (botocore's service models, pydantic's schemas, numpy), its clients and a loaded
model are hundreds of thousands of objects that live as long as the container. Every full collection
walks them all, and the updater, which decodes and drops a profile's worth of objects per user,
triggers several per batch. Once a function's dependencies are built, ``settle`` moves every object
there is into the permanent generation (``gc.freeze``), which collections skip; objects made later are
collected as before. Measured (docs/benchmarks.md): the updater with its real imports spends about a
fifth less CPU per event; the API's slowest of 2,000 requests on moto went from 200-239 ms (a full
collection while a request waited) to 37-41 ms.

No collection first: a full one costs 46 ms of the API's cold start and 62 ms of the updater's, to
reclaim the reference cycles init left (the updater's: 26,565 objects, 7 MB, kept for the container's
life instead; the API's: 2,650). Cold start is the scarcer of the two.

``collections_paused`` keeps the collector out of a stream batch altogether: a batch's objects (events,
decoded profiles, updates) form no reference cycles worth chasing mid-batch and are freed by reference
counting as they go; the collector runs as usual once the batch is done, so whatever cyclic garbage
the batch left (an exception's traceback, say) is collected then, at most one batch late.
"""

import gc
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps


def settle(force: bool = False) -> bool:
    """Freeze the heap as it is now, in a Lambda container (or with ``force``); True if it did.

    Not done in tests and tools, which build dependencies many times in one long process: objects frozen
    there would never be collected if they later became part of a reference cycle."""
    if not (force or os.environ.get("AWS_LAMBDA_FUNCTION_NAME")):
        return False
    gc.freeze()
    return True


class _Pauses:
    """The blocks inside ``collections_paused`` now (a process may run batches on several threads),
    and whether the collector was enabled when the first of them began."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside = 0
        self.resume = False

    def enter(self) -> None:
        with self.lock:
            if self.inside == 0:
                self.resume = gc.isenabled()
                gc.disable()
            self.inside += 1

    def leave(self) -> None:
        with self.lock:
            self.inside -= 1
            if self.inside == 0 and self.resume:
                gc.enable()


_PAUSES = _Pauses()


@contextmanager
def collections_paused() -> Iterator[None]:
    """No automatic cyclic collection inside the block; afterwards the collector is as it was (enabled
    unless someone had disabled it). Nested and concurrent blocks resume it when the last one ends."""
    _PAUSES.enter()
    try:
        yield
    finally:
        _PAUSES.leave()


def paused_during[**P, R](fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` runs inside ``collections_paused`` (the updater's batch)."""

    @wraps(fn)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        with collections_paused():
            return fn(*args, **kwargs)

    return paused
