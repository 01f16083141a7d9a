"""The columnar event log used for training at scale: same data, same models, a fraction of the memory."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from tests.modelkit import Params, synthetic_events, train
from training import models
from training.eventlog import read_events, read_table
from training.table import table_from_events

GRID = [Params(method="ease", ease_lambda=50.0, neighbors=20)]


def _write_log(events, path: Path, garbage_at: int) -> Path:
    with gzip.open(path, "wt") as fh:
        for n, event in enumerate(events):
            if n == garbage_at:
                fh.write('{"event_type": "view", "user_id": ""}\n')  # invalid: no id, no time
            fh.write(event.model_dump_json(exclude_none=True) + "\n")
    return path


def test_columns_hold_every_event_and_fetch_returns_them_in_time_order() -> None:
    events = synthetic_events(users=6, per_user=5)
    table = table_from_events(events)
    assert table.n_events == len(events)
    assert [table.user_ids[c] for c in table.user] == [e.user_id for e in events]
    assert [table.item_ids[c] if c >= 0 else None for c in table.item] == [e.item_id for e in events]
    assert table.positive.tolist() == [e.event_type == "rate" for e in events]
    assert table.traits["u3"]["age"] == 18 + 21
    fetched = table.events_of(["u2", "u4"])
    for user in ("u2", "u4"):
        expected = sorted((e for e in events if e.user_id == user), key=lambda e: e.timestamp)
        assert [e.event_id for e in fetched[user]] == [e.event_id for e in expected]


def test_file_loader_skips_bad_lines_and_refetches_by_line(tmp_path: Path) -> None:
    events = synthetic_events(users=8, per_user=6)
    path = _write_log(events, tmp_path / "log.jsonl.gz", garbage_at=5)
    table, errors = read_table(str(path))
    listed, list_errors = read_events(str(path))
    assert table.n_events == len(listed) == len(events)
    assert [n for n, _ in errors] == [n for n, _ in list_errors] == [6]
    fetched = table.events_of(["u1"])["u1"]
    assert [e.event_id for e in fetched] == [e.event_id for e in listed if e.user_id == "u1"]
    assert table.ref.max() == len(events) + 1  # line numbers, the bad line included


def test_training_from_a_file_table_equals_training_from_objects(tmp_path: Path) -> None:
    events = synthetic_events()
    path = _write_log(events, tmp_path / "log.jsonl.gz", garbage_at=3)
    table, _ = read_table(str(path))
    from_file = train(table, grid=GRID, say=lambda _: None)
    from_objects = train(events, grid=GRID, say=lambda _: None)
    assert from_file.files == from_objects.files
    assert json.dumps(from_file.metrics, default=float) == json.dumps(from_objects.metrics, default=float)


def test_transitions_stay_inside_each_users_sequence_and_held_out_items() -> None:
    # user 0: 1 -> 2 -> 3, user 1: 2 -> 3 -> 4 (the 4 is held out)
    user = np.array([0, 0, 0, 1, 1, 1])
    item = np.array([1, 2, 3, 2, 3, 4])
    keep = np.array([True, True, True, True, True, False])
    idx, w = models.transitions(user, item, keep, n_items=5, n=3, window=1)
    assert idx[1].tolist() == [2, -1, -1] and w[1, 0] == 1.0
    assert idx[2].tolist() == [3, -1, -1] and w[2, 0] == 1.0  # counted twice, normalised
    assert idx[3].tolist() == [-1, -1, -1]  # 3 -> 2 crosses users, 3 -> 4 is held out
    idx, w = models.transitions(user, item, keep, n_items=5, n=3, window=2)
    assert idx[1].tolist() == [2, 3, -1]
    np.testing.assert_allclose(w[1, :2], [1 / 1.5, 0.5 / 1.5], rtol=1e-6)


def test_a_log_may_be_every_file_under_a_directory(tmp_path: Path) -> None:
    # Given a log split in two files, one gzip and one plain (as an archive writes them), and a hidden file
    events = synthetic_events(users=8, per_user=6)
    half = len(events) // 2
    (tmp_path / "logs" / "2024").mkdir(parents=True)
    _write_log(events[:half], tmp_path / "logs" / "2024" / "part-1.jsonl.gz", garbage_at=2)
    plain = tmp_path / "logs" / "2024" / "part-2.jsonl"
    plain.write_text("\n".join(e.model_dump_json(exclude_none=True) for e in events[half:]))  # no last newline
    (tmp_path / "logs" / ".part-3.tmp").write_text("not an event\n")
    # When the directory is read
    table, errors = read_table(str(tmp_path / "logs"))
    listed, _ = read_events(str(tmp_path / "logs"))
    # Then every event of both files is there, line numbers run on across files, and refetching works
    assert table.n_events == len(listed) == len(events)
    assert [n for n, _ in errors] == [3]
    assert table.ref.max() == len(events) + 1
    fetched = table.events_of(["u1"])["u1"]
    assert [e.event_id for e in fetched] == [e.event_id for e in listed if e.user_id == "u1"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no event log files"):
        read_events(str(tmp_path / "empty"))
