"""Use cases of erasure: ask for it (the profile at once, raw data by a job) and run the jobs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pulse.domain.erasure import ErasureJob, new_erasure_id, user_digest, valid_erasure_id
from pulse.errors import UnknownErasure
from pulse.ports import ErasureJobs, ErasureQueue, ExperimentStore, ProfileStore, RawDataEraser, TransientFailure


@dataclass(frozen=True)
class ErasureRequest:
    erasure_id: str
    user_id: str
    final: bool = False  # the queue's last delivery: a failure now is the job's end ("failed")


def erase_user(
    store: ProfileStore,
    jobs: ErasureJobs,
    queue: ErasureQueue,
    user_id: str,
    delay_seconds: float,
    now: float,
    experiments: ExperimentStore | None = None,
) -> ErasureJob:
    """Record and queue the job first (so a failure leaves nothing half-done that nobody will finish),
    then erase the profile, its idempotency state and memberships and leave the tombstone, and the
    records of which experiments showed the user answers (their counts stay: they name nobody)."""
    job = ErasureJob(new_erasure_id(), user_digest(user_id), requested_at=now, not_before=now + delay_seconds)
    jobs.put(job)
    queue.submit(job.erasure_id, user_id)
    store.erase(user_id)
    if experiments is not None:
        experiments.forget_user(user_id)
    return job


def erasure_status(jobs: ErasureJobs, erasure_id: str) -> ErasureJob:
    job = jobs.get(erasure_id) if valid_erasure_id(erasure_id) else None
    if job is None:
        raise UnknownErasure(f"no erasure {erasure_id}")
    return job


def run_erasures(
    jobs: ErasureJobs, eraser: RawDataEraser, requests: Sequence[ErasureRequest], clock: Callable[[], float]
) -> list[ErasureJob]:
    """One pass over the raw data for every request of the batch; each job records what went for its
    user (added up over runs). Raises when the pass fails: the queue delivers the batch again, and
    erasing twice is safe."""
    records = []
    now = clock()
    for request in requests:
        job = jobs.get(request.erasure_id) or ErasureJob(
            request.erasure_id, user_digest(request.user_id), requested_at=now, not_before=now
        )
        job.status, job.started_at = "running", now
        jobs.put(job)
        records.append((request, job))
    try:
        counts = eraser.erase(frozenset(r.user_id for r in requests))
    except TransientFailure as exc:
        for request, job in records:
            job.error = str(exc)
            if request.final:
                job.status, job.finished_at = "failed", clock()
            jobs.put(job)
        raise
    for request, job in records:
        job.counts.add(counts[request.user_id])
        job.status, job.finished_at, job.error = "done", clock(), None
        jobs.put(job)
    return [job for _, job in records]
