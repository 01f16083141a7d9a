"""Use case of ``POST /events``: validate each event, put the valid ones on the stream."""

import json
from collections.abc import Sequence
from typing import Any

from pulse.domain.events import InvalidEvent
from pulse.domain.records import parse_record, partition_key
from pulse.http.models import CollectResult, Rejection
from pulse.ports import EventPublisher


def collect(publisher: EventPublisher, events: Sequence[Any], now: float | None = None) -> CollectResult:
    """``{accepted, rejected: [{index, error}]}``; valid events go to Kinesis keyed by user (a
    catalogue change, ``item_update``, by item)."""
    rejected: list[dict[str, Any]] = []
    valid: list[tuple[int, str, bytes]] = []
    for index, raw in enumerate(events):
        if not isinstance(raw, dict):
            rejected.append({"index": index, "error": "an event must be a JSON object"})
            continue
        data = json.dumps(raw, separators=(",", ":")).encode()
        try:  # the very bytes the updater will read, through the very same validation
            event = parse_record(data, now=now)
        except InvalidEvent as exc:
            rejected.append({"index": index, "error": exc.reason})
            continue
        valid.append((index, partition_key(event), data))
    failed = set(publisher.publish([(user, data) for _, user, data in valid]))
    for position, (index, _, _) in enumerate(valid):
        if position in failed:
            rejected.append({"index": index, "error": "the stream did not take the event; send it again"})
    rejected.sort(key=lambda r: r["index"])
    return CollectResult(accepted=len(valid) - len(failed), rejected=[Rejection.model_validate(r) for r in rejected])
