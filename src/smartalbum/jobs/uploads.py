"""Photos uploaded with a classify job, kept in the catalog until the job ends.

A drop of many photos on the page becomes a job (``POST /api/v1/jobs/classify``); the
worker that runs it may be another machine, which cannot read the web node's data dir.
So the uploads wait in the catalog's ``job_uploads`` table, tied to their job: the worker
reads them one at a time, and they are deleted when the job ends (done, failed or
cancelled). :func:`delete_finished` is the sweep for any left behind (a worker killed at
the wrong moment, a job cancelled before it started).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from smartalbum.library.db import session_scope
from smartalbum.library.schema import JOB_FINISHED, Job
from smartalbum.library.schema_state import JobUpload

Factory = sessionmaker[Session]


def store_uploads(factory: Factory, job_id: str, uploads: Iterable[tuple[str, Any]]) -> int:
    """Store ``(original file name, bytes or a readable file)`` pairs for ``job_id``, in
    order, in one transaction; returns how many."""
    n = 0
    with session_scope(factory) as s:
        for position, (name, data) in enumerate(uploads):
            body = data if isinstance(data, (bytes, bytearray)) else data.read()
            s.add(JobUpload(job_id=job_id, position=position, name=name[:255], data=bytes(body)))
            n += 1
            if n % 16 == 0:
                s.flush()  # send rows as they come: at most 16 uploads held here at once
                s.expunge_all()
    return n


def names(factory: Factory, job_id: str) -> list[str]:
    """The original file names of the job's uploads, in upload order."""
    with factory() as s:
        return list(
            s.scalars(
                select(JobUpload.name)
                .where(JobUpload.job_id == job_id)
                .order_by(JobUpload.position)
            )
        )


def read(factory: Factory, job_id: str, position: int) -> bytes | None:
    """One upload's bytes (None: gone, e.g. the job was cancelled meanwhile)."""
    with factory() as s:
        return s.scalar(
            select(JobUpload.data).where(JobUpload.job_id == job_id, JobUpload.position == position)
        )


def delete_for(factory: Factory, job_id: str) -> None:
    with session_scope(factory) as s:
        s.execute(delete(JobUpload).where(JobUpload.job_id == job_id))


def delete_finished(factory: Factory) -> int:
    """Delete the uploads of finished jobs (the orphans' sweep); returns how many."""
    finished = select(Job.id).where(Job.status.in_(JOB_FINISHED))
    with session_scope(factory) as s:
        return s.execute(delete(JobUpload).where(JobUpload.job_id.in_(finished))).rowcount or 0
