"""Event logs in the contract's format: JSON Lines, optionally gzip, from a local path or ``s3://``."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pulse.domain.events import BehaviorEvent, InvalidEvent, parse_event
from training.table import EventTable, TableBuilder


def _open(source: str, s3: Any = None) -> io.BufferedReader | Any:
    if source.startswith("s3://"):
        url = urlparse(source)
        if s3 is None:
            import boto3

            s3 = boto3.client("s3")
        body = s3.get_object(Bucket=url.netloc, Key=url.path.lstrip("/"))["Body"].read()
        raw: Any = io.BytesIO(body)
    else:
        raw = Path(source).open("rb")  # noqa: SIM115 - closed by the caller's with-block
    head = raw.read(2)
    raw.seek(0)
    return gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw


def _parsed(source: str, s3: Any, now: float, errors: list[tuple[int, str]]) -> Iterator[tuple[int, BehaviorEvent]]:
    """``(line number, event)`` for every valid line; ``(line number, reason)`` into ``errors`` otherwise."""
    with _open(source, s3) as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                event = parse_event(line.rstrip(b"\r\n"), now=now)
            except InvalidEvent as exc:
                errors.append((number, exc.reason))
                continue
            yield number, event


def read_events(source: str, s3: Any = None, now: float = 4e9) -> tuple[list[BehaviorEvent], list[tuple[int, str]]]:
    """Valid events (sorted by time) and ``(line number, reason)`` for every invalid line."""
    errors: list[tuple[int, str]] = []
    events = [event for _, event in _parsed(source, s3, now, errors)]
    events.sort(key=lambda e: e.timestamp)
    return events, errors


def iter_lines(source: str, s3: Any = None) -> Iterator[bytes]:
    with _open(source, s3) as fh:
        yield from (line for line in fh if line.strip())


@dataclass
class FileSource:
    """Events fetched again by line number from the log they were read from (a second pass)."""

    source: str
    s3: Any = None
    now: float = 4e9

    def fetch(self, refs: Iterable[int]) -> dict[int, BehaviorEvent]:
        wanted = set(refs)
        out: dict[int, BehaviorEvent] = {}
        if not wanted:
            return out
        last = max(wanted)
        with _open(self.source, self.s3) as fh:
            for number, line in enumerate(fh, start=1):
                if number in wanted:
                    out[number] = parse_event(line.rstrip(b"\r\n"), now=self.now)
                if number >= last:
                    break
        return out


def read_table(source: str, s3: Any = None, now: float = 4e9) -> tuple[EventTable, list[tuple[int, str]]]:
    """Like :func:`read_events`, but columnar (about 25 bytes per event): for logs of millions of events."""
    builder = TableBuilder()
    errors: list[tuple[int, str]] = []
    for number, event in _parsed(source, s3, now, errors):
        builder.add(event, number)
    return builder.build(FileSource(source, s3, now)), errors
