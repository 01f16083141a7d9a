"""Lambda's Kinesis event source mapping, emulated for the local stack.

Per shard it reads records in order and invokes the function with Lambda's event shape, honouring the
template's settings:
- ``BatchSize`` and ``MaximumBatchingWindowInSeconds``;
- ``ReportBatchItemFailures``: the shard is checkpointed just before the lowest reported sequence
  number and the next delivery starts there (a malformed report fails the whole batch, as on AWS);
- function errors: with ``BisectBatchOnFunctionError`` the batch is split in two and each half is
  retried on its own;
- ``MaximumRetryAttempts`` / ``MaximumRecordAgeInSeconds``: a batch that exhausts its retries, or
  records that are too old, are skipped and their position is sent to the ``OnFailure`` destination
  (SQS) in the same shape AWS uses (``KinesisBatchInfo``), so the shard is never blocked for ever.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infrastructure.functions import FunctionError, KinesisSource

log = logging.getLogger("pulse.local.kinesis")
Invoke = Callable[[dict[str, Any]], Any]


@dataclass
class ShardState:
    shard_id: str
    iterator: str | None = None
    buffer: list[dict[str, Any]] = field(default_factory=list)
    first_buffered_at: float | None = None
    checkpoint: str | None = None  # last sequence number fully handled


@dataclass
class Stats:
    invocations: int = 0
    records_delivered: int = 0
    function_errors: int = 0
    partial_failures: int = 0
    sent_to_destination: int = 0


class KinesisEventSource:
    def __init__(
        self,
        source: KinesisSource,
        function_arn: str,
        invoke: Invoke,
        kinesis: Any,
        sqs: Any,
        region: str = "us-east-1",
        destination_url: str | None = None,
        retry_delay: float = 0.05,
    ) -> None:
        self.source = source
        self.function_arn = function_arn
        self.invoke = invoke
        self.kinesis = kinesis
        self.sqs = sqs
        self.region = region
        self.destination_url = destination_url
        self.retry_delay = retry_delay
        self.shards: dict[str, ShardState] = {}
        self.stats = Stats()

    # ------------------------------------------------------------------ reading
    def _refresh_shards(self) -> None:
        shards = self.kinesis.list_shards(StreamName=self.source.stream)["Shards"]
        for shard in shards:
            sid = shard["ShardId"]
            if sid not in self.shards:
                self.shards[sid] = ShardState(sid)

    def _iterator(self, state: ShardState) -> str:
        if state.iterator is None:
            args: dict[str, Any] = {"StreamName": self.source.stream, "ShardId": state.shard_id}
            if state.checkpoint is not None:
                args |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": state.checkpoint}
            else:
                args["ShardIteratorType"] = self.source.starting_position
            state.iterator = self.kinesis.get_shard_iterator(**args)["ShardIterator"]
        return state.iterator

    def _fill(self, state: ShardState) -> None:
        want = self.source.batch_size - len(state.buffer)
        if want <= 0:
            return
        response = self.kinesis.get_records(ShardIterator=self._iterator(state), Limit=min(10_000, want))
        state.iterator = response.get("NextShardIterator")
        if response["Records"]:
            state.buffer.extend(response["Records"])
            if state.first_buffered_at is None:
                state.first_buffered_at = time.monotonic()

    # ------------------------------------------------------------------ delivering
    def _event(self, records: list[dict[str, Any]], shard_id: str) -> dict[str, Any]:
        def one(r: dict[str, Any]) -> dict[str, Any]:
            arrival = r["ApproximateArrivalTimestamp"]
            return {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r["PartitionKey"],
                    "sequenceNumber": r["SequenceNumber"],
                    "data": base64.b64encode(r["Data"]).decode(),
                    "approximateArrivalTimestamp": arrival.timestamp() if isinstance(arrival, datetime) else arrival,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard_id}:{r['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"{self.function_arn}-role",
                "awsRegion": self.region,
                "eventSourceARN": self.source.stream_arn,
            }

        return {"Records": [one(r) for r in records]}

    def _attempt(self, records: list[dict[str, Any]], shard_id: str) -> int | FunctionError | None:
        """Invoke once. None: all done; int: index of the first record to retry; or the error."""
        self.stats.invocations += 1
        self.stats.records_delivered += len(records)
        try:
            result = self.invoke(self._event(records, shard_id))
        except FunctionError as exc:
            self.stats.function_errors += 1
            return exc
        if not self.source.report_batch_item_failures or not isinstance(result, dict):
            return None
        failures = result.get("batchItemFailures") or []
        if not failures:
            return None
        self.stats.partial_failures += 1
        seqs = [r["SequenceNumber"] for r in records]
        ids = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
        if any(i not in seqs for i in ids):
            return 0  # an unknown or empty identifier fails the whole batch, as on AWS
        return min(seqs.index(i) for i in ids if i is not None)

    def _expired(self, records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if self.source.max_record_age < 0:
            return [], records
        now = time.time()

        def age(r: dict[str, Any]) -> float:
            arrival = r["ApproximateArrivalTimestamp"]
            return now - (arrival.timestamp() if isinstance(arrival, datetime) else float(arrival))

        old = [r for r in records if age(r) > self.source.max_record_age]
        return old, [r for r in records if r not in old]

    def deliver(self, records: list[dict[str, Any]], shard_id: str) -> None:
        """Handle ``records`` completely: applied, or reported to the on-failure destination."""
        attempts = 0
        while records:
            old, records = self._expired(records)
            if old:
                self._to_destination(old, shard_id, "RecordAgeExceeded", attempts)
            if not records:
                return
            outcome = self._attempt(records, shard_id)
            if outcome is None:
                return
            if isinstance(outcome, FunctionError):
                log.warning("%s: function error on %d records: %s", self.source.name, len(records), outcome)
                if self.source.bisect and len(records) > 1:
                    mid = len(records) // 2
                    self.deliver(records[:mid], shard_id)
                    self.deliver(records[mid:], shard_id)
                    return
            else:
                records = records[outcome:]
            attempts += 1
            if 0 <= self.source.max_retries < attempts:
                self._to_destination(records, shard_id, "RetryAttemptsExhausted", attempts - 1)
                return
            time.sleep(min(1.0, self.retry_delay * 2 ** min(attempts, 5)))

    def _to_destination(self, records: list[dict[str, Any]], shard_id: str, condition: str, retries: int) -> None:
        self.stats.sent_to_destination += len(records)
        if not self.destination_url:
            log.error("%s: dropping %d records (%s), no destination", self.source.name, len(records), condition)
            return

        def when(r: dict[str, Any]) -> str:
            arrival = r["ApproximateArrivalTimestamp"]
            dt = arrival if isinstance(arrival, datetime) else datetime.fromtimestamp(float(arrival), UTC)
            return dt.isoformat()

        message = {
            "requestContext": {
                "requestId": f"local-{time.time_ns()}",
                "functionArn": self.function_arn,
                "condition": condition,
                "approximateInvokeCount": retries + 1,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": condition},
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "KinesisBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": records[0]["SequenceNumber"],
                "endSequenceNumber": records[-1]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": when(records[0]),
                "approximateArrivalOfLastRecord": when(records[-1]),
                "batchSize": len(records),
                "streamArn": self.source.stream_arn,
            },
        }
        self.sqs.send_message(QueueUrl=self.destination_url, MessageBody=json.dumps(message))

    # ------------------------------------------------------------------ polling
    def poll_once(self) -> int:
        """One pass over every shard; returns the number of records handled."""
        self._refresh_shards()
        handled = 0
        for state in self.shards.values():
            self._fill(state)
            if not state.buffer:
                continue
            waited = time.monotonic() - (state.first_buffered_at or time.monotonic())
            if len(state.buffer) < self.source.batch_size and waited < self.source.window_seconds:
                continue
            batch = state.buffer[: self.source.batch_size]
            self.deliver(batch, state.shard_id)
            state.checkpoint = batch[-1]["SequenceNumber"]
            del state.buffer[: len(batch)]
            state.first_buffered_at = time.monotonic() if state.buffer else None
            handled += len(batch)
        return handled

    def run(self, stop: threading.Event, interval: float = 0.2) -> None:
        while not stop.is_set():
            try:
                busy = self.poll_once() > 0
            except Exception:  # keep polling; a transient endpoint error must not kill the mapping
                log.exception("%s: polling failed", self.source.name)
                busy = False
            if not busy:
                stop.wait(interval)
