"""One stream record, read: a behaviour event (section 1) or a catalogue change (``item_update``).

Both ways in, ``POST /events`` and the updater, read records here, so they accept and refuse exactly
the same things.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import ValidationError

from pulse.domain.catalog import ItemUpdateEvent
from pulse.domain.events import MAX_EVENT_BYTES, MAX_FUTURE_SECONDS, BehaviorEvent, InvalidEvent, parse_event

Record = BehaviorEvent | ItemUpdateEvent


def _is_item_update(exc: InvalidEvent) -> bool:
    cause = exc.__cause__
    if not isinstance(cause, ValidationError):
        return False
    return any(e.get("loc") == ("event_type",) and e.get("input") == "item_update" for e in cause.errors())


def parse_record(payload: bytes | str | dict[str, Any], now: float | None = None) -> Record:
    """A behaviour event or an item update; raises ``InvalidEvent`` with the reason otherwise. The
    behaviour path stays the fast one: an item update is read again only after it was refused as a
    behaviour event because of its type."""
    now = time.time() if now is None else now
    try:
        return parse_event(payload, now=now)
    except InvalidEvent as exc:
        if not _is_item_update(exc):
            if exc.reason.startswith("event_type: Input should be"):
                raise InvalidEvent(exc.reason.replace(" or 'identify'", ", 'identify' or 'item_update'")) from exc
            raise
    raw = payload if isinstance(payload, dict) else json.loads(payload)  # valid JSON: parse_event read it
    try:
        change = ItemUpdateEvent.model_validate(raw)
    except ValidationError as exc:
        from pulse.domain.events import describe_validation_error

        raise InvalidEvent(describe_validation_error(exc)) from exc
    if change.timestamp > now + MAX_FUTURE_SECONDS:
        raise InvalidEvent("timestamp is more than 5 minutes ahead of the processor's clock")
    return change


def partition_key(record: Record) -> str:
    """The Kinesis partition key: the user (one user's events in order), or the item of a change."""
    return record.item_id if isinstance(record, ItemUpdateEvent) else record.user_id


__all__ = ["MAX_EVENT_BYTES", "Record", "parse_record", "partition_key"]
