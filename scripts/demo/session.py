"""The demo's plumbing: the local stack, its HTTP API, and the events sent through Kinesis."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import requests
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from infrastructure.local_stack import LocalStack, LocalStackConfig
from infrastructure.template import ROOT
from pulse.adapters.aws import KinesisEventPublisher
from pulse.config import Settings
from pulse.domain.events import BehaviorEvent

OUT = ROOT / "reports" / "demo"


def say(text: str = "") -> None:
    print(text, flush=True)


_BARS: dict[str, tuple[Progress, TaskID]] = {}


def progress(done: int, total: int, started: float, label: str) -> None:
    """A progress bar (rich): live on a terminal; in a log file, one line when the step is done."""
    if label not in _BARS:
        bar = Progress(
            TextColumn(f"  {label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=sys.stdout),
            transient=False,
        )
        bar.start()
        _BARS[label] = (bar, bar.add_task(label, total=total))
    bar, task = _BARS[label]
    bar.update(task, completed=done, total=total)
    if done >= total:  # in a log file, rich writes this final state once instead of every redraw
        bar.stop()
        del _BARS[label]


class Session:
    """The stack the demo runs on, what it sent, and what it measured."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        OUT.mkdir(parents=True, exist_ok=True)
        self.stack = LocalStack(
            LocalStackConfig(
                aws_port=args.aws_port,
                api_port=args.api_port,
                poll_interval=args.poll_interval,
                function_log=OUT / "functions.log",
                # bigger batches: fewer profile writes per event while the history streams in
                parameters={"UpdaterBatchSize": "10000", "SegmentDefinitionsRefreshSeconds": "2"},
                # the demo replays 1997-98 at its own clock; the segment refresher evaluates at today's,
                # where every 1998 fan has long faded and no account is new: it stays off here
                fire_schedules=False,
            )
        )
        self.http = requests.Session()
        self.sent: Counter[str] = Counter()  # events sent per user
        self.figures: dict[str, Any] = {}
        self._publisher: KinesisEventPublisher | None = None

    @property
    def api(self) -> str:
        return self.stack.api_url

    def put(self, events: list[BehaviorEvent]) -> float:
        """PutRecords (partition key = user) through the collector's publisher: batches of 500, entries
        Kinesis refused sent again with backoff. Returns when Kinesis accepted them all."""
        if self._publisher is None:
            settings = Settings.model_validate({"EVENT_STREAM": self.stack.outputs()["EventStreamName"]})
            self._publisher = KinesisEventPublisher(settings, kinesis=self.stack.client("kinesis"))
        failed = self._publisher.publish([(e.user_id, e.to_json().encode()) for e in events])
        if failed:
            raise RuntimeError(f"Kinesis refused {len(failed)} of {len(events)} events after retries")
        for e in events:
            self.sent[e.user_id] += 1
        return time.perf_counter()

    def replay(
        self,
        events: Sequence[BehaviorEvent],
        positions: Iterable[int],
        ask: Callable[[BehaviorEvent], list[BehaviorEvent]],
        start: int = 0,
    ) -> int:
        """Stream ``events[start:]`` in order up to the last of ``positions``; before each of those,
        once the user's earlier events are applied, call ``ask`` (what it returns goes on the stream
        just before that event). Returns the position after the last event sent."""
        wanted = set(positions)
        last = max(wanted, default=start - 1)
        pending: list[BehaviorEvent] = []
        for position in range(start, last + 1):
            event = events[position]
            if position in wanted:
                if pending:
                    self.put(pending)
                    pending = []
                if self.sent[event.user_id]:
                    self.wait_applied(event.user_id)
                pending += ask(event)
            pending.append(event)
        if pending:
            self.put(pending)
        return last + 1

    def profile(self, user: str) -> dict[str, Any] | None:
        r = self.http.get(f"{self.api}/users/{user}/profile", timeout=30)
        return r.json() if r.status_code == 200 else None

    def applied(self, user: str) -> bool:
        found = self.profile(user)
        return found is not None and found["behavior"]["total_events"] >= self.sent[user]

    def wait_applied(self, user: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.applied(user):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{user}'s events were not applied within {timeout} s")
            time.sleep(0.02)

    def top10(self, user: str, explain: bool = False) -> list[dict[str, Any]]:
        r = self.http.get(
            f"{self.api}/users/{user}/recommendations", params={"k": "10", "explain": str(explain).lower()}, timeout=30
        )
        r.raise_for_status()
        return list(r.json()["items"])

    # ------------------------------------------------------------------------------------------ steps
