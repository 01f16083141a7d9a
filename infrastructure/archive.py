"""Kinesis Data Firehose with a Kinesis stream as source and S3 as destination, emulated for the local
stack (moto records the delivery stream but delivers nothing).

As the template declares it: every record of the stream, with ``AppendDelimiterToRecord`` (one event
per line), gzip-compressed, under the ``Prefix`` with its ``!{timestamp:...}`` expression rendered in
UTC, in objects named like Firehose's (``<delivery stream>-<yyyy-MM-dd-HH-mm-ss>-<random>.gz``). The
buffer is written when it is ``buffer_seconds`` old (the template's ``IntervalInSeconds`` on AWS; the
local stack uses a short one so the archive is readable at once) or reaches ``SizeInMBs``, and once
more when the stack stops.
"""

from __future__ import annotations

import gzip
import logging
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("pulse.local.archive")
_TIMESTAMP = re.compile(r"!\{timestamp:([^}]*)\}")
_JAVA_DATE = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}


def render_prefix(prefix: str, at: datetime) -> str:
    """``events/!{timestamp:yyyy/MM/dd/HH}/`` at 2024-06-01 12:00 UTC -> ``events/2024/06/01/12/``."""

    def one(match: re.Match[str]) -> str:
        pattern = match.group(1)
        for java, python in _JAVA_DATE.items():
            pattern = pattern.replace(java, python)
        return at.strftime(pattern)

    return _TIMESTAMP.sub(one, prefix)


class FirehoseArchive:
    def __init__(self, name: str, properties: dict[str, Any], kinesis: Any, s3: Any, buffer_seconds: float) -> None:
        source, destination = (
            properties["KinesisStreamSourceConfiguration"],
            properties["ExtendedS3DestinationConfiguration"],
        )
        self.name = name
        self.stream = source["KinesisStreamARN"].split(":stream/", 1)[1]
        self.bucket = destination["BucketARN"].split(":::", 1)[1]
        self.prefix = destination.get("Prefix", "")
        self.gzip = destination.get("CompressionFormat", "UNCOMPRESSED") == "GZIP"
        processors = destination.get("ProcessingConfiguration", {}).get("Processors", [])
        self.delimiter = b"\n" if any(p.get("Type") == "AppendDelimiterToRecord" for p in processors) else b""
        self.max_bytes = int(destination.get("BufferingHints", {}).get("SizeInMBs", 5)) * 1024 * 1024
        self.buffer_seconds = buffer_seconds
        self.kinesis, self.s3 = kinesis, s3
        self.iterators: dict[str, str | None] = {}
        self.buffer: list[bytes] = []
        self.buffered_bytes = 0
        self.first_buffered_at: float | None = None
        self.objects_written = 0

    def poll(self) -> None:
        for shard in self.kinesis.list_shards(StreamName=self.stream)["Shards"]:
            sid = shard["ShardId"]
            iterator = self.iterators.get(sid)
            if iterator is None and sid not in self.iterators:
                iterator = self.kinesis.get_shard_iterator(
                    StreamName=self.stream, ShardId=sid, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            if iterator is None:  # a closed shard, read to its end
                continue
            response = self.kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            self.iterators[sid] = response.get("NextShardIterator")
            for record in response["Records"]:
                self.buffer.append(record["Data"] + self.delimiter)
                self.buffered_bytes += len(self.buffer[-1])
                if self.first_buffered_at is None:
                    self.first_buffered_at = time.monotonic()

    def due(self) -> bool:
        if self.first_buffered_at is None:  # None exactly when the buffer is empty
            return False
        return self.buffered_bytes >= self.max_bytes or time.monotonic() - self.first_buffered_at >= self.buffer_seconds

    def flush(self) -> str | None:
        """Write the buffer as one object; returns its key (None when there was nothing to write)."""
        if not self.buffer:
            return None
        now = datetime.now(UTC)
        body = b"".join(self.buffer)
        key = f"{render_prefix(self.prefix, now)}{self.name}-1-{now:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}"
        if self.gzip:
            body, key = gzip.compress(body), key + ".gz"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        self.buffer, self.buffered_bytes, self.first_buffered_at = [], 0, None
        self.objects_written += 1
        return key

    def run(self, stop: threading.Event, poll_interval: float) -> None:
        while not stop.is_set():
            try:
                self.poll()
                if self.due():
                    self.flush()
            except Exception:  # keep archiving; the next poll retries
                log.exception("archive %s: poll failed", self.name)
            stop.wait(poll_interval)
        try:
            self.poll()
            self.flush()
        except Exception:
            log.exception("archive %s: final flush failed", self.name)
