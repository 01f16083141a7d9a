"""Local emulation of ``Schedule`` events (EventBridge rules): the function is invoked with a
"Scheduled Event" every period. The local stack shortens the period (10 s by default) so that what
a schedule does on AWS every few minutes can be watched, and tested, on a laptop."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from infrastructure.functions import FunctionError, ScheduleSource
from infrastructure.kinesis_source import Invoke

log = logging.getLogger("pulse.local.schedule")


def scheduled_event(rule_arn: str, region: str, account: str, at: float | None = None) -> dict[str, Any]:
    """The event EventBridge sends for a scheduled rule."""
    when = datetime.fromtimestamp(time.time() if at is None else at, UTC).replace(microsecond=0)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": when.isoformat().replace("+00:00", "Z"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


class LocalSchedule:
    def __init__(
        self,
        source: ScheduleSource,
        function_name: str,
        invoke: Invoke,
        region: str,
        account: str,
        period_seconds: float | None = None,
    ) -> None:
        self.source = source
        self.name = f"{function_name}-{source.name}"
        self.invoke = invoke
        self.region, self.account = region, account
        self.period = source.period_seconds if period_seconds is None else period_seconds

    def fire(self) -> Any:
        rule = f"arn:aws:events:{self.region}:{self.account}:rule/{self.name}"
        return self.invoke(scheduled_event(rule, self.region, self.account))

    def run(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Fire every period (the first one period after start) until ``stop``."""
        if self.period is None:
            log.warning(
                "%s: %s is not emulated at its own times; give a local period", self.name, self.source.expression
            )
            return
        while not stop.wait(self.period):
            try:
                self.fire()
            except FunctionError as exc:  # as on AWS, a failed run is just done again by the next one
                log.warning("%s: scheduled run failed: %s", self.name, exc)
