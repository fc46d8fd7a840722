"""Job rows in the catalog: create, claim, progress, finish, cancel, read.

Every state change is one short transaction whose WHERE clause makes it safe to repeat or
to race: a chunk is claimed only when queued or stale, counted into the job only once,
and a job is finished by exactly one worker. Progress is monotonic: a chunk's ``done``
only grows (``max``), and the job's ``done`` is the sum over its chunks; ``total`` is fixed when the job is planned.

A chunked kind with a final step (faces: group the new faces into people) gets one more
chunk without items, *held* until every item chunk is finished: the worker that finishes
the last one releases it (:func:`release_final`, a conditional update only one caller
wins) and runs it; killed, it is re-sent like any chunk.
"""

from __future__ import annotations

import math
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, exists, func, select, update
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
    JobWorker,
    utcnow,
)
from smartalbum.library.schema_state import JobUpload

Factory = sessionmaker[Session]
KINDS = ("index",)  # chunked over many workers (jobs.tasks); the others: jobs.kinds

#: A chunk of a final step waits in this state until every item chunk is finished.
CHUNK_HELD = "held"
#: Workers that did not heartbeat for this long are gone (they beat every WORKER_BEAT_S).
WORKER_BEAT_S = 10.0
WORKER_GONE_S = 3 * WORKER_BEAT_S
#: Live workers assumed when none heartbeated (a job submitted before any worker started):
#: enough chunks for a couple of workers, not so many that a chunk costs more than its work.
FALLBACK_WORKERS = 2
#: What job_to_dict uses when the caller has no settings (JobSettings.stall_after_s).
DEFAULT_STALL_AFTER_S = 30.0


def known_kinds() -> tuple[str, ...]:
    """Every job kind a worker can run: ``index``, the registered chunked kinds and the
    whole-job ones."""
    from smartalbum.jobs.kinds import load_kinds

    return KINDS + tuple(sorted(load_kinds()))


def chunked_kinds() -> tuple[str, ...]:
    """The kinds cut into chunks: ``index`` and those registered with ``chunked_kind``."""
    from smartalbum.jobs.kinds import load_chunked

    return KINDS + tuple(sorted(load_chunked()))


def chunk_size(total: int, workers: int, per_worker: int, smallest: int, largest: int) -> int:
    """Items per chunk: about ``per_worker`` chunks for each live worker, within
    [``smallest``, ``largest``]. Why: a fixed size leaves workers idle on a small job
    (20 photos in chunks of 64 is one chunk for one worker) and costs a chunk's overhead
    per few items on a huge one; a few chunks per worker also evens out unequal chunks."""
    if total <= 0:
        return max(1, smallest)
    want = math.ceil(total / max(1, workers * per_worker))
    return max(1, max(smallest, min(largest, want)))


# --------------------------------------------------------------------------- workers


def worker_heartbeat(factory: Factory, name: str, concurrency: int) -> None:
    """Say that worker ``name`` (taking ``concurrency`` tasks at once) is alive."""
    now = utcnow()
    with session_scope(factory) as s:
        values = {"concurrency": concurrency, "heartbeat_at": now}
        if not insert_ignore(s, JobWorker, {"name": name, "started_at": now, **values}, ["name"]):
            s.execute(update(JobWorker).where(JobWorker.name == name).values(**values))


def worker_gone(factory: Factory, name: str) -> None:
    """Forget a worker that shuts down (a killed one ages out instead)."""
    with session_scope(factory) as s:
        s.execute(delete(JobWorker).where(JobWorker.name == name))


def live_workers(factory: Factory, within_s: float = WORKER_GONE_S) -> int:
    """Tasks the live workers take at once (sum of their concurrency); 0 when none beat."""
    since = utcnow() - timedelta(seconds=within_s)
    with factory() as s:
        return int(
            s.scalar(
                select(func.coalesce(func.sum(JobWorker.concurrency), 0)).where(
                    JobWorker.heartbeat_at >= since
                )
            )
            or 0
        )


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
        job.progress_at = job.progress_at or now
        return job


def add_chunks(
    factory: Factory, job_id: str, chunks: list[list[str]], *, final: bool = False
) -> list[int]:
    """Store the job's chunks (and, with ``final``, its held final step) and fix its
    total; returns the item chunks' ids, or [] when a previous plan of the same job
    already stored them (its chunks are then the sweep's to send again, not ours)."""
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
        if final:
            s.add(
                JobChunk(
                    job_id=job_id,
                    seq=len(chunks),
                    items=[],
                    status=CHUNK_HELD,
                    done=0,
                    errors=0,
                    attempts=0,
                    heartbeat_at=now,
                )
            )
        s.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(total=sum(len(c) for c in chunks), heartbeat_at=now, progress_at=now)
        )
        s.flush()
        return [r.id for r in rows]


def release_final(factory: Factory, job_id: str) -> int | None:
    """Queue the job's held final step once no item chunk is queued or running; its chunk
    id for the one caller that released it, else None.

    Every worker calls this after committing its chunk, so of two finishing the last two
    chunks at once the later one sees both finished; the ``held`` condition lets only one
    of them win (PostgreSQL re-checks it after the row lock, SQLite serialises writers).
    """
    other = JobChunk.__table__.alias("other")
    with session_scope(factory) as s:
        final_id = s.scalar(
            select(JobChunk.id).where(JobChunk.job_id == job_id, JobChunk.status == CHUNK_HELD)
        )
        if final_id is None:
            return None
        open_items = exists().where(
            other.c.job_id == job_id, other.c.status.in_((JOB_QUEUED, JOB_RUNNING))
        )
        changed = s.execute(
            update(JobChunk)
            .where(JobChunk.id == final_id, JobChunk.status == CHUNK_HELD, ~open_items)
            .values(status=JOB_QUEUED, heartbeat_at=utcnow())
        ).rowcount
        return final_id if changed == 1 else None


@dataclass
class Claim:
    """A chunk this worker now holds."""

    chunk_id: int
    job_id: str
    items: list[str]
    attempts: int
    params: dict[str, Any]
    kind: str = "index"
    done: int = 0  # items a previous attempt finished (they are done in order)

    @property
    def final(self) -> bool:
        """The job's final step (a chunk without items)."""
        return not self.items


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
        s.execute(update(Job).where(Job.id == chunk.job_id).values(progress_at=now))
        s.refresh(chunk)
        return Claim(
            chunk.id,
            chunk.job_id,
            list(chunk.items),
            chunk.attempts,
            dict(job.params),
            kind=job.kind,
            done=chunk.done,
        )


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
        _refresh_job_counts(s, claim.job_id, now)
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


def finish_chunk(
    factory: Factory, claim: Claim, status: str = JOB_DONE, result: Any = None
) -> None:
    """Mark the chunk finished with every item done (failed items count as done), keeping
    what it reports (``result``) for its kind's final step."""
    with session_scope(factory) as s:
        s.execute(
            update(JobChunk)
            .where(JobChunk.id == claim.chunk_id, JobChunk.status == JOB_RUNNING)
            .values(
                status=status,
                done=len(claim.items) if status == JOB_DONE else JobChunk.done,
                finished_at=utcnow(),
                result=result,
            )
        )
        _refresh_job_counts(s, claim.job_id, utcnow())


def keep_alive(factory: Factory, claim: Claim) -> None:
    """Heartbeat a chunk whose work reports no items (a final step): neither re-sent
    by the sweep nor shown as stalled while its worker lives."""
    now = utcnow()
    with session_scope(factory) as s:
        s.execute(
            update(JobChunk)
            .where(JobChunk.id == claim.chunk_id, JobChunk.status == JOB_RUNNING)
            .values(heartbeat_at=now)
        )
        s.execute(update(Job).where(Job.id == claim.job_id).values(progress_at=now))


def _refresh_job_counts(s: Session, job_id: str, now: datetime | None = None) -> None:
    """The job's ``done`` from its chunks, never lower than it was (a chunk's ``done``
    only grows, so the sum only grows; the guard keeps that true whatever wrote it)."""
    done = (
        select(func.coalesce(func.sum(JobChunk.done), 0))
        .where(JobChunk.job_id == job_id)
        .scalar_subquery()
    )
    errors = select(func.count()).where(JobItemError.job_id == job_id)
    values: dict[str, Any] = {
        "done": case((Job.done > done, Job.done), else_=done),
        "errors": errors.scalar_subquery(),
    }
    if now is not None:
        values["progress_at"] = now
    s.execute(update(Job).where(Job.id == job_id).values(**values))


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


def job_items(factory: Factory, job_id: str) -> list[str]:
    """Every item the job was planned with, in chunk order (a final step's input)."""
    with factory() as s:
        rows = s.scalars(
            select(JobChunk.items).where(JobChunk.job_id == job_id).order_by(JobChunk.seq)
        )
        return [item for items in rows for item in items]


def chunk_results(factory: Factory, job_id: str) -> list[Any]:
    """What the job's finished chunks reported, in chunk order (None-s left out)."""
    with factory() as s:
        return [
            r
            for r in s.scalars(
                select(JobChunk.result)
                .where(JobChunk.job_id == job_id, JobChunk.status == JOB_DONE)
                .order_by(JobChunk.seq)
            )
            if r is not None
        ]


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
            .where(JobChunk.job_id == job_id, JobChunk.status.in_((JOB_QUEUED, CHUNK_HELD)))
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
            # Not planned yet, a whole-job kind, or a chunked job whose chunks are all
            # finished but which is not (its last worker died before ending it).
            open_chunks = exists().where(
                JobChunk.job_id == Job.id, JobChunk.status.in_((JOB_QUEUED, JOB_RUNNING))
            )
            jobs = list(
                s.scalars(
                    select(Job.id).where(
                        Job.status.in_((JOB_QUEUED, JOB_RUNNING)),
                        Job.total.is_(None) | Job.kind.not_in(chunked_kinds()) | ~open_chunks,
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


def job_to_dict(
    job: Job, now: datetime | None = None, stall_after_s: float | None = None
) -> dict[str, Any]:
    """The job as the API and ``smartalbum jobs --json`` show it, with rate and ETA.

    ``rate`` is items per second since the job started (or until it finished); ``eta_s``
    the seconds left at that rate (None until something is done or when finished).
    ``stalled``: running, but no chunk heartbeated for ``stall_after_s``
    (JobSettings.stall_after_s); the ETA is then withheld, since a rate averaged over the
    time before the stall says nothing about when it ends. ``idle_s``: seconds since
    the last progress of a running job.
    """
    now = now or utcnow()
    limit = DEFAULT_STALL_AFTER_S if stall_after_s is None else stall_after_s
    end = job.finished_at or now
    elapsed = (end - job.started_at).total_seconds() if job.started_at else 0.0
    rate = job.done / elapsed if elapsed > 0 and job.done else None
    idle = None
    if job.status == JOB_RUNNING:
        last = job.progress_at or job.heartbeat_at or job.started_at or job.created_at
        idle = max(0.0, (now - last).total_seconds()) if last is not None else None
    stalled = idle is not None and idle > limit
    eta = None
    if rate and job.total is not None and job.status == JOB_RUNNING and not stalled:
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
        "stalled": stalled,
        "idle_s": round(idle, 1) if idle is not None else None,
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
