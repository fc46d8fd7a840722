"""Job rows in the catalog: create, claim, progress, finish, cancel, read.

Every state change is one short transaction whose WHERE clause makes it safe to repeat or
to race: a chunk is claimed only when queued or stale, counted into the job only once,
and a job is finished by exactly one worker. Progress is monotonic: a chunk's ``done``
only grows (``max``), and the job's ``done`` is the sum over its chunks.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from smartalbum.library.db import insert_ignore, session_scope
from smartalbum.library.schema import (
    JOB_CANCELLED,
    JOB_DONE,
    JOB_FAILED,
    JOB_FINISHED,
    JOB_QUEUED,
    JOB_RUNNING,
    Job,
    JobChunk,
    JobItemError,
    utcnow,
)
from smartalbum.library.schema_state import JobUpload

Factory = sessionmaker[Session]
KINDS = ("index",)  # chunked over many workers (jobs.tasks); whole-job kinds: jobs.kinds


def known_kinds() -> tuple[str, ...]:
    """Every job kind a worker can run: the chunked ``index`` plus the registered ones."""
    from smartalbum.jobs.kinds import load_kinds

    return KINDS + tuple(sorted(load_kinds()))


def worker_name() -> str:
    """Who holds a chunk: host and process id (shown by ``smartalbum jobs``)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def create_job(factory: Factory, kind: str, params: dict[str, Any]) -> str:
    """A new queued job; returns its id."""
    if kind not in known_kinds():
        raise ValueError(f"unknown job kind {kind!r} (known: {', '.join(known_kinds())})")
    job_id = uuid.uuid4().hex
    with session_scope(factory) as s:
        s.add(
            Job(
                id=job_id,
                kind=kind,
                status=JOB_QUEUED,
                params=params,
                done=0,
                errors=0,
                heartbeat_at=utcnow(),
            )
        )
    return job_id


def start_planning(factory: Factory, job_id: str) -> Job | None:
    """Mark a queued job running (idempotent); None when it is finished or unknown."""
    now = utcnow()
    with session_scope(factory) as s:
        job = s.get(Job, job_id)
        if job is None or job.status in JOB_FINISHED:
            return None
        job.status = JOB_RUNNING
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        return job


def add_chunks(factory: Factory, job_id: str, chunks: list[list[str]]) -> list[int]:
    """Store the job's chunks; returns their ids, or [] when a previous plan of the same
    job already stored them (its chunks are then the sweep's to send again, not ours)."""
    now = utcnow()
    with session_scope(factory) as s:
        have = s.scalar(select(func.count()).where(JobChunk.job_id == job_id))
        if have:
            s.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=now))
            return []
        rows = [
            JobChunk(
                job_id=job_id,
                seq=seq,
                items=items,
                status=JOB_QUEUED,
                done=0,
                errors=0,
                attempts=0,
                heartbeat_at=now,  # for a queued chunk: when it was last sent
            )
            for seq, items in enumerate(chunks)
        ]
        s.add_all(rows)
        s.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(total=sum(len(c) for c in chunks), heartbeat_at=now)
        )
        s.flush()
        return [r.id for r in rows]


@dataclass
class Claim:
    """A chunk this worker now holds."""

    chunk_id: int
    job_id: str
    items: list[str]
    attempts: int
    params: dict[str, Any]


def claim_chunk(factory: Factory, chunk_id: int, stale_after_s: float) -> Claim | None:
    """Take a chunk if it is queued, or running but not heartbeated for ``stale_after_s``.

    None when the chunk is finished, held by a live worker, or its job is no longer
    running (cancelled chunks are marked so here).
    """
    now = utcnow()
    stale = now - timedelta(seconds=stale_after_s)
    with session_scope(factory) as s:
        chunk = s.get(JobChunk, chunk_id)
        if chunk is None:
            return None
        job = s.get(Job, chunk.job_id)
        if job is None or job.status != JOB_RUNNING:
            if chunk.status not in JOB_FINISHED:
                chunk.status = JOB_CANCELLED
            return None
        result = s.execute(
            update(JobChunk)
            .where(
                JobChunk.id == chunk_id,
                (JobChunk.status == JOB_QUEUED)
                | ((JobChunk.status == JOB_RUNNING) & (JobChunk.heartbeat_at < stale)),
            )
            .values(
                status=JOB_RUNNING,
                claimed_by=worker_name(),
                heartbeat_at=now,
                attempts=JobChunk.attempts + 1,
            )
        )
        if result.rowcount != 1:
            return None
        s.refresh(chunk)
        return Claim(chunk.id, chunk.job_id, list(chunk.items), chunk.attempts, dict(job.params))


def chunk_progress(factory: Factory, claim: Claim, done: int) -> bool:
    """Record that ``done`` items of the chunk are finished; False when the job was
    cancelled (the worker stops after the batch it just committed)."""
    now = utcnow()
    with session_scope(factory) as s:
        s.execute(
            update(JobChunk)
            .where(JobChunk.id == claim.chunk_id)
            .values(
                done=case((JobChunk.done < done, done), else_=JobChunk.done),
                heartbeat_at=now,
            )
        )
        _refresh_job_counts(s, claim.job_id)
        status = s.scalar(select(Job.status).where(Job.id == claim.job_id))
    return status == JOB_RUNNING


def record_item_error(factory: Factory, job_id: str, item: str, code: str, message: str) -> None:
    """Remember that ``item`` failed in this job (the latest reason wins)."""
    values = {"code": code[:64], "message": message, "created_at": utcnow()}
    with session_scope(factory) as s:
        if not insert_ignore(
            s, JobItemError, {"job_id": job_id, "item": item, **values}, ["job_id", "item"]
        ):
            s.execute(
                update(JobItemError)
                .where(JobItemError.job_id == job_id, JobItemError.item == item)
                .values(**values)
            )


def finish_chunk(factory: Factory, claim: Claim, status: str = JOB_DONE) -> None:
    """Mark the chunk finished with every item done (failed items count as done)."""
    with session_scope(factory) as s:
        s.execute(
            update(JobChunk)
            .where(JobChunk.id == claim.chunk_id, JobChunk.status == JOB_RUNNING)
            .values(
                status=status,
                done=len(claim.items) if status == JOB_DONE else JobChunk.done,
                finished_at=utcnow(),
            )
        )
        _refresh_job_counts(s, claim.job_id)


def _refresh_job_counts(s: Session, job_id: str) -> None:
    done = select(func.coalesce(func.sum(JobChunk.done), 0)).where(JobChunk.job_id == job_id)
    errors = select(func.count()).where(JobItemError.job_id == job_id)
    s.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(done=done.scalar_subquery(), errors=errors.scalar_subquery())
    )


def maybe_finish_job(factory: Factory, job_id: str, result: dict[str, Any] | None = None) -> bool:
    """Mark the job done when none of its chunks is left; True for the one caller that did.

    Called in its own transaction *after* the chunk's commit, so of two workers finishing
    the last two chunks at once at least the later one sees both finished; the status
    condition lets only one of them win.
    """
    with session_scope(factory) as s:
        open_chunks = s.scalar(
            select(func.count()).where(
                JobChunk.job_id == job_id, JobChunk.status.not_in(JOB_FINISHED)
            )
        )
        if open_chunks:
            return False
        _refresh_job_counts(s, job_id)
        values: dict[str, Any] = {"status": JOB_DONE, "finished_at": utcnow()}
        if result is not None:
            values["result"] = result
        changed = s.execute(
            update(Job).where(Job.id == job_id, Job.status == JOB_RUNNING).values(**values)
        )
        return changed.rowcount == 1


def fail_job(factory: Factory, job_id: str, message: str) -> None:
    with session_scope(factory) as s:
        s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.not_in(JOB_FINISHED))
            .values(status=JOB_FAILED, message=message, finished_at=utcnow())
        )


def cancel_job(factory: Factory, job_id: str) -> Job | None:
    """Cancel a job that is not finished (workers stop after their current batch).

    Returns the job (None when unknown); a finished job is returned unchanged.
    """
    now = utcnow()
    with session_scope(factory) as s:
        s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.not_in(JOB_FINISHED))
            .values(status=JOB_CANCELLED, finished_at=now)
        )
        s.execute(
            update(JobChunk)
            .where(JobChunk.job_id == job_id, JobChunk.status == JOB_QUEUED)
            .values(status=JOB_CANCELLED)
        )
        # photos uploaded with the job: no worker will read them now
        s.execute(delete(JobUpload).where(JobUpload.job_id == job_id))
        return s.get(Job, job_id)


def stale_work(factory: Factory, stale_after_s: float) -> tuple[list[str], list[int]]:
    """(jobs to plan again, chunks to send again), marked as sent now.

    A *running* chunk not heartbeated for ``stale_after_s`` lost its worker. A *queued*
    chunk (or an unplanned job) may have lost its message (taken, unacknowledged, by a
    worker that was then killed); those are sent again only while no chunk anywhere made
    progress for ``stale_after_s`` — the workers are idle — so a long queue behind busy
    workers is never flooded with copies.
    """
    now = utcnow()
    stale = now - timedelta(seconds=stale_after_s)
    with session_scope(factory) as s:
        busy = s.scalar(
            select(func.count()).where(
                JobChunk.status == JOB_RUNNING, JobChunk.heartbeat_at >= stale
            )
        )
        chunk_state = (JobChunk.status == JOB_RUNNING) & (JobChunk.heartbeat_at < stale)
        if not busy:
            chunk_state = chunk_state | (
                (JobChunk.status == JOB_QUEUED) & (JobChunk.heartbeat_at < stale)
            )
        found = s.execute(
            select(JobChunk.id, JobChunk.status)
            .join(Job, Job.id == JobChunk.job_id)
            .where(Job.status == JOB_RUNNING, chunk_state)
            .order_by(JobChunk.id)
        ).all()
        chunks = [cid for cid, _ in found]
        queued = [cid for cid, status in found if status == JOB_QUEUED]
        jobs: list[str] = []
        if not busy:
            jobs = list(
                s.scalars(
                    select(Job.id).where(
                        Job.status.in_((JOB_QUEUED, JOB_RUNNING)),
                        Job.total.is_(None) | (Job.kind != "index"),
                        func.coalesce(Job.heartbeat_at, Job.created_at) < stale,
                    )
                )
            )
        if jobs:
            s.execute(update(Job).where(Job.id.in_(jobs)).values(heartbeat_at=now))
        if queued:
            s.execute(update(JobChunk).where(JobChunk.id.in_(queued)).values(heartbeat_at=now))
    return jobs, chunks


# --------------------------------------------------------------------------- reading


def get_job(factory: Factory, job_id: str) -> Job | None:
    with factory() as s:
        return s.get(Job, job_id)


def list_jobs(factory: Factory, limit: int = 50, status: str | None = None) -> list[Job]:
    with factory() as s:
        query = select(Job).order_by(Job.created_at.desc(), Job.id).limit(limit)
        if status:
            query = query.where(Job.status == status)
        return list(s.scalars(query))


def item_errors(factory: Factory, job_id: str, limit: int = 100) -> list[JobItemError]:
    with factory() as s:
        return list(
            s.scalars(
                select(JobItemError)
                .where(JobItemError.job_id == job_id)
                .order_by(JobItemError.id)
                .limit(limit)
            )
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


def job_to_dict(job: Job, now: datetime | None = None) -> dict[str, Any]:
    """The job as the API and ``smartalbum jobs --json`` show it, with rate and ETA.

    ``rate`` is items per second since the job started (or until it finished); ``eta_s``
    the seconds left at that rate (None until something is done or when finished).
    """
    now = now or utcnow()
    end = job.finished_at or now
    elapsed = (end - job.started_at).total_seconds() if job.started_at else 0.0
    rate = job.done / elapsed if elapsed > 0 and job.done else None
    eta = None
    if rate and job.total is not None and job.status == JOB_RUNNING:
        eta = max(0.0, (job.total - job.done) / rate)
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "params": job.params,
        "total": job.total,
        "done": job.done,
        "errors": job.errors,
        "rate": round(rate, 3) if rate else None,
        "eta_s": round(eta, 1) if eta is not None else None,
        "message": job.message,
        "result": job.result,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }


@dataclass
class JobStats:
    """What ``/metrics`` reports about the job system, read from the catalog (the one truth
    shared by every web and worker process, so any process may report it, once)."""

    #: (kind, status) -> number of jobs
    jobs: dict[tuple[str, str], int]
    #: chunks waiting for a worker (queued, not yet claimed): the queue's depth
    queued_chunks: int
    #: kind -> items done over every job still in the catalog (a counter while none is deleted)
    items_done: dict[str, int]
    #: kind -> items per second of the running jobs together
    items_per_s: dict[str, float]


def job_stats(factory: Factory, now: datetime | None = None) -> JobStats:
    """Counts by kind and status, the queue's depth, items done and the running rate."""
    now = now or utcnow()
    with factory() as s:
        rows = s.execute(
            select(Job.kind, Job.status, func.count(), func.coalesce(func.sum(Job.done), 0))
            .group_by(Job.kind, Job.status)
        ).all()
        queued = s.scalar(
            select(func.count()).select_from(JobChunk).where(JobChunk.status == JOB_QUEUED)
        )
        running = s.scalars(select(Job).where(Job.status == JOB_RUNNING)).all()
    jobs: dict[tuple[str, str], int] = {}
    done: dict[str, int] = {}
    for kind, status, count, items in rows:
        jobs[(kind, status)] = int(count)
        done[kind] = done.get(kind, 0) + int(items)
    rates: dict[str, float] = {}
    for job in running:
        rate = job_to_dict(job, now)["rate"] or 0.0
        rates[job.kind] = rates.get(job.kind, 0.0) + rate
    return JobStats(jobs=jobs, queued_chunks=int(queued or 0), items_done=done, items_per_s=rates)
