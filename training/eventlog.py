"""Event logs in the contract's format: JSON Lines, optionally gzip, from a local path or ``s3://``; a log
may be one file or every file under a local directory or an ``s3://`` prefix (one ending in ``/``)."""

from __future__ import annotations

import gzip
import io
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pulse.domain.events import BehaviorEvent, InvalidEvent, parse_event
from pulse.domain.records import parse_record
from training.table import EventTable, TableBuilder

Source = str | tuple[str, ...]  # one log (a file, a directory, a prefix), or the files of one, in order


def parts(source: Source, s3: Any = None) -> list[str]:
    """The files a log is made of: itself, or, for a local directory or an ``s3://`` URL ending in ``/``
    (a prefix such as a Firehose archive writes), every non-empty file below it in name order; a tuple
    names the files itself (the retraining function's window of the archive, newest first)."""
    if isinstance(source, tuple):
        return list(source)
    if source.startswith("s3://"):
        url = urlparse(source)
        prefix = url.path.lstrip("/")
        if prefix and not prefix.endswith("/"):
            return [source]
        keys = []
        for page in _s3(s3).get_paginator("list_objects_v2").paginate(Bucket=url.netloc, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", []) if o["Size"] > 0 and not o["Key"].endswith("/")]
        found = [f"s3://{url.netloc}/{key}" for key in sorted(keys)]
    else:
        path = Path(source)
        if not path.is_dir():
            return [source]
        found = [
            str(p)
            for p in sorted(path.rglob("*"))
            if p.is_file() and p.stat().st_size > 0 and not any(x.startswith(".") for x in p.relative_to(path).parts)
        ]
    if not found:
        raise FileNotFoundError(f"no event log files under {source}")
    return found


def _s3(s3: Any) -> Any:
    if s3 is None:
        import boto3

        s3 = boto3.client("s3")
    return s3


def _open(source: str, s3: Any = None) -> io.BufferedReader | Any:
    if source.startswith("s3://"):
        url = urlparse(source)
        body = _s3(s3).get_object(Bucket=url.netloc, Key=url.path.lstrip("/"))["Body"].read()
        raw: Any = io.BytesIO(body)
    else:
        raw = Path(source).open("rb")  # noqa: SIM115 - closed by the caller's with-block
    head = raw.read(2)
    raw.seek(0)
    return gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw


def _lines(source: Source, s3: Any = None, opened: list[str] | None = None) -> Generator[bytes, None, None]:
    """Every line of the log, its files one after another (line numbers run on across files); each file
    is added to ``opened`` as it is opened."""
    for part in parts(source, s3):
        if opened is not None:
            opened.append(part)
        with _open(part, s3) as fh:
            for line in fh:
                yield line if line.endswith(b"\n") else line + b"\n"  # a file may lack its last newline


def _parsed(
    source: Source, s3: Any, now: float, errors: list[tuple[int, str]], opened: list[str] | None = None
) -> Generator[tuple[int, BehaviorEvent], None, None]:
    """``(line number, event)`` for every valid line; ``(line number, reason)`` into ``errors`` otherwise."""
    for number, line in numbered_lines(source, s3, opened):
        if not line.strip():
            continue
        try:
            event = parse_record(line.rstrip(b"\r\n"), now=now)
        except InvalidEvent as exc:
            errors.append((number, exc.reason))
            continue
        if isinstance(event, BehaviorEvent):  # catalogue changes (item_update) are not behaviour
            yield number, event


def read_events(source: str, s3: Any = None, now: float = 4e9) -> tuple[list[BehaviorEvent], list[tuple[int, str]]]:
    """Valid events (sorted by time) and ``(line number, reason)`` for every invalid line."""
    errors: list[tuple[int, str]] = []
    events = [event for _, event in _parsed(source, s3, now, errors)]
    events.sort(key=lambda e: e.timestamp)
    return events, errors


def numbered_lines(source: Source, s3: Any = None, opened: list[str] | None = None) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` over the whole log, numbers running on across its files (``opened``: as
    for ``_lines``)."""
    yield from enumerate(_lines(source, s3, opened), start=1)


@dataclass
class FileSource:
    """Events fetched again by line number from the log they were read from (a second pass)."""

    source: Source
    s3: Any = None
    now: float = 4e9

    def fetch(self, refs: Iterable[int]) -> dict[int, BehaviorEvent]:
        wanted = set(refs)
        out: dict[int, BehaviorEvent] = {}
        if not wanted:
            return out
        last = max(wanted)
        lines = _lines(self.source, self.s3)
        for number, line in enumerate(lines, start=1):
            if number in wanted:
                out[number] = parse_event(line.rstrip(b"\r\n"), now=self.now)
            if number >= last:
                break
        lines.close()  # closes the file being read
        return out


def read_table(
    source: Source, s3: Any = None, now: float = 4e9, limit: int | None = None, opened: list[str] | None = None
) -> tuple[EventTable, list[tuple[int, str]]]:
    """Like :func:`read_events`, but columnar (about 25 bytes per event): for logs of millions of events.
    With ``limit``, reading stops after that many valid events (the rest of the log is not read);
    ``opened`` receives the files read, in order."""
    builder = TableBuilder()
    errors: list[tuple[int, str]] = []
    parsed = _parsed(source, s3, now, errors, opened)
    for count, (number, event) in enumerate(parsed, start=1):
        builder.add(event, number)
        if limit is not None and count >= limit:
            parsed.close()  # closes the file being read
            break
    return builder.build(FileSource(source, s3, now)), errors
