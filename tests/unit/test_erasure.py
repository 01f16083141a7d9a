"""Erasure of raw data: which lines and letters are a user's, and the jobs' life."""

import base64
import gzip
import json

import pytest

from pulse.domain.erasure import ErasureJob, letter_of, strip_lines, user_digest
from pulse.errors import UnknownErasure
from pulse.ports import TransientFailure
from pulse.services import erasure
from tests.fakes import MemoryErasureJobs, MemoryErasureQueue, MemoryProfileStore, MemoryRawData

ANN = frozenset({"ann"})


def line(user: object, n: int = 1) -> bytes:
    return json.dumps({"event_id": f"e{n}", "event_type": "view", "user_id": user, "item_id": "i"}).encode() + b"\n"


def test_only_the_users_lines_leave_an_archive_object() -> None:
    data = line("ann") + line("bob") + line("anna") + line("ann", 2) + b"not json with ann inside\n" + line(7)
    stripped = strip_lines(gzip.compress(data), ANN, gzipped=True)
    assert stripped is not None and stripped.removed == {"ann": 3} and not stripped.empty
    assert gzip.decompress(stripped.body) == line("bob") + line("anna") + line(7)  # "anna" is not "ann"
    assert strip_lines(line("bob"), ANN, gzipped=False) is None  # untouched: not written again
    alone = strip_lines(line("ann") + line("ann", 2), ANN, gzipped=False)
    assert alone is not None and alone.empty  # nothing left: the object is deleted, not rewritten
    # an event naming the user elsewhere (a query) but belonging to another user stays
    assert strip_lines(json.dumps({"user_id": "bob", "query": "ann"}).encode(), ANN, gzipped=False) is None


def test_a_dead_letter_is_the_users_by_its_key_or_its_payload() -> None:
    payload = base64.b64encode(line("ann")).decode()
    assert letter_of(json.dumps({"partition_key": "ann", "payload_s3": "s3://b/k"}), ANN) == ("ann", "s3://b/k")
    assert letter_of(json.dumps({"partition_key": "x", "payload_base64": payload}), ANN) == ("ann", None)
    batch = {"requestContext": {"condition": "RetryAttemptsExhausted"}, "KinesisBatchInfo": {"shardId": "s"}}
    assert letter_of(json.dumps(batch), ANN) == (None, None)  # a failed batch's range names no one
    assert letter_of("raw ann bytes", ANN) == ("ann", None)


def test_erasing_records_and_queues_the_job_then_erases_the_profile() -> None:
    store, jobs, queue = MemoryProfileStore(), MemoryErasureJobs(), MemoryErasureQueue()
    job = erasure.erase_user(store, jobs, queue, "user-4711", delay_seconds=360, now=1000.0)
    assert queue.sent == [(job.erasure_id, "user-4711")]
    stored = erasure.erasure_status(jobs, job.erasure_id)
    assert stored.status == "pending" and stored.not_before == 1360.0 and stored.user_sha256 == user_digest("user-4711")
    assert "user-4711" not in jobs.records[job.erasure_id]  # the record never names the user
    with pytest.raises(UnknownErasure):
        erasure.erasure_status(jobs, "0" * 32)
    with pytest.raises(UnknownErasure):
        erasure.erasure_status(jobs, "../models/current")


def test_a_queue_failure_erases_nothing_so_the_caller_can_retry() -> None:
    store = MemoryProfileStore()
    store.items["ann"] = (b"{}", 1)
    with pytest.raises(TransientFailure):
        erasure.erase_user(store, MemoryErasureJobs(), MemoryErasureQueue(fail=True), "ann", 360, 1000.0)
    assert "ann" in store.items and "ann" not in store.tombstones


def test_a_batch_of_jobs_runs_in_one_pass_and_a_failed_pass_can_run_again() -> None:
    jobs, raw = MemoryErasureJobs(), MemoryRawData({"ann": 13, "bob": 2})
    requests = [erasure.ErasureRequest("a" * 32, "ann"), erasure.ErasureRequest("b" * 32, "bob")]
    with pytest.raises(TransientFailure):
        erasure.run_erasures(jobs, MemoryRawData({}, fail=True), requests, clock=lambda: 5.0)
    failing = ErasureJob.from_json(jobs.records["a" * 32])
    assert failing.status == "running" and failing.error == "bucket unavailable"  # comes back
    last = [erasure.ErasureRequest("c" * 32, "cid", final=True)]
    with pytest.raises(TransientFailure):
        erasure.run_erasures(jobs, MemoryRawData({}, fail=True), last, clock=lambda: 5.5)
    assert erasure.erasure_status(jobs, "c" * 32).status == "failed"
    done = erasure.run_erasures(jobs, raw, requests, clock=lambda: 6.0)
    assert [(j.status, j.counts.lines_removed) for j in done] == [("done", 13), ("done", 2)]
    again = erasure.run_erasures(jobs, raw, requests[:1], clock=lambda: 7.0)  # a re-delivery: nothing more
    assert again[0].counts.lines_removed == 13 and erasure.erasure_status(jobs, "a" * 32).finished_at == 7.0


def test_a_damaged_gzip_object_is_searched_as_it_is() -> None:
    damaged = b"\x1f\x8b" + line("ann") + line("bob")  # gzip's magic, then plain lines
    stripped = strip_lines(damaged, ANN, gzipped=True)
    assert stripped is not None and stripped.removed == {"ann": 1} and b"ann" not in stripped.body
