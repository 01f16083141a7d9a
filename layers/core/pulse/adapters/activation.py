"""Activation's adapters: the outbox (partitions ``#outbox#<shard>`` of the segments table, written in
the profile's transaction) and the publisher (EventBridge ``PutEvents`` on the stack's bus)."""

import json
from collections.abc import Sequence
from typing import Any

from pulse.adapters.aws import client
from pulse.adapters.tables import COUNT_SHARDS, OUTBOX_PREFIX, SegmentMember, bind, call, outbox_partition
from pulse.config import Settings
from pulse.domain.activation import SOURCE, Notice
from pulse.ports import NoticeOutbox, NoticePublisher, PendingNotice

ENTRIES_PER_CALL = 10  # PutEvents' limit
RETRYABLE = {"ThrottlingException", "InternalFailure", "InternalException", "ServiceUnavailable"}


class DynamoOutbox(NoticeOutbox):
    def __init__(self, settings: Settings) -> None:
        bind(settings)

    def pending(self, written_before: float, limit: int) -> list[PendingNotice]:
        def query() -> list[PendingNotice]:
            out: list[PendingNotice] = []
            for shard in range(COUNT_SHARDS):
                for item in SegmentMember.query(f"{OUTBOX_PREFIX}{shard:02d}", consistent_read=True, page_size=500):
                    if len(out) >= limit:
                        return out
                    if item.body and (item.joined_at or 0) <= written_before:
                        notice = Notice.from_json(item.body)
                        out.append(PendingNotice(notice, str(notice.detail.get("user_id")), float(item.joined_at or 0)))
            return out

        return call(query)

    def remove(self, done: Sequence[PendingNotice]) -> None:
        def delete() -> None:
            with SegmentMember.batch_write() as batch:
                for p in done:
                    batch.delete(SegmentMember(outbox_partition(p.user_id), p.notice.notice_id))

        if done:
            call(delete)


class EventBridgePublisher(NoticePublisher):
    def __init__(self, settings: Settings, events: Any = None) -> None:
        self.bus = settings.event_bus_name
        self.events = events or client("events", settings.region, settings.endpoint_url)

    def publish(self, notices: Sequence[Notice]) -> list[tuple[Notice, str, bool]]:
        refused: list[tuple[Notice, str, bool]] = []
        for start in range(0, len(notices), ENTRIES_PER_CALL):
            chunk = list(notices[start : start + ENTRIES_PER_CALL])
            entries = [
                {"Source": SOURCE, "DetailType": n.detail_type, "Detail": _json(n.detail), "EventBusName": self.bus}
                for n in chunk
            ]
            try:
                answer = self.events.put_events(Entries=entries)
            except Exception as exc:  # noqa: BLE001  # the call failed as a whole: all of them wait in the outbox
                refused += [(n, f"{type(exc).__name__}: {exc}", True) for n in chunk]
                continue
            for notice, result in zip(chunk, answer.get("Entries", []), strict=False):
                code = result.get("ErrorCode")
                if code:
                    refused.append((notice, f"{code}: {result.get('ErrorMessage', '')}", code in RETRYABLE))
        return refused


def _json(detail: dict[str, Any]) -> str:
    return json.dumps(detail, separators=(",", ":"), sort_keys=True)
