"""Submitting jobs and waiting for them (shared by the CLI and the API)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from smartalbum.config import Settings
from smartalbum.jobs import store
from smartalbum.jobs.errors import BrokerUnavailable, DiskFull, is_disk_full
from smartalbum.library.schema import JOB_FINISHED, Job

log = logging.getLogger(__name__)


def submit_index(
    settings: Settings,
    factory: store.Factory,
    paths: Sequence[str | Path],
    *,
    heads: Sequence[str] | None = None,
    chunk_size: int | None = None,
    app: Any = None,
) -> str:
    """Create an index job for ``paths`` (made absolute: workers read the same mount)
    and send its planning task; returns the job id."""
    from smartalbum.jobs.app import make_celery

    params: dict[str, Any] = {"paths": [str(Path(p).expanduser().resolve()) for p in paths]}
    if heads:
        params["heads"] = list(heads)
    if chunk_size:
        params["chunk_size"] = int(chunk_size)
    job_id = _create(factory, "index", params)
    _send(factory, job_id, lambda: (app or make_celery(settings)).conf.smartalbum_tasks["plan"])
    return job_id


def submit_job(
    settings: Settings,
    factory: store.Factory,
    kind: str,
    params: dict[str, Any],
    *,
    app: Any = None,
    prepare: Callable[[str], None] | None = None,
) -> str:
    """Create a ``kind`` job (see jobs.kinds) and send its first task: the planning of a
    chunked kind, else the whole-job run; returns its id.

    ``prepare(job_id)`` runs between the two (e.g. storing the job's uploads in the
    catalog), so no worker can start the job before it is ready; if it raises, the job is
    failed and the exception goes on."""
    from smartalbum.jobs.app import make_celery

    if kind == "index":
        return submit_index(settings, factory, params.get("paths", []), app=app)
    job_id = _create(factory, kind, params)
    if prepare is not None:
        try:
            prepare(job_id)
        except BaseException as exc:
            store.fail_job(factory, job_id, f"could not prepare the job: {type(exc).__name__}")
            raise
    first = "plan" if kind in store.chunked_kinds() else "run"
    _send(factory, job_id, lambda: (app or make_celery(settings)).conf.smartalbum_tasks[first])
    return job_id


def _create(factory: store.Factory, kind: str, params: dict[str, Any]) -> str:
    """The job row; a catalog on a full disk is :class:`DiskFull` (507), not a traceback."""
    try:
        return store.create_job(factory, kind, params)
    except (OSError, SQLAlchemyError) as exc:
        if is_disk_full(exc):
            raise DiskFull(
                f"cannot record the job: no space left on the catalog's disk ({exc})"
            ) from exc
        raise


def _send(factory: store.Factory, job_id: str, task: Callable[[], Any]) -> None:
    """Send the job's first task. A broker that cannot take it (a full disk, damaged
    files, Redis down) fails the job with the reason, so no job waits ``queued`` forever,
    and raises :class:`DiskFull` (507) or :class:`BrokerUnavailable` (503)."""
    try:
        task().delay(job_id)
    except Exception as exc:
        full = is_disk_full(exc)
        why = "no space left on the broker's disk" if full else "the broker cannot take the job"
        reason = f"{why}: {type(exc).__name__}: {exc}"
        try:
            store.fail_job(factory, job_id, reason)
        except Exception:  # noqa: BLE001 - the catalog may be on the same full disk
            log.exception("cannot mark job %s failed", job_id)
        raise (DiskFull if full else BrokerUnavailable)(f"job {job_id} failed: {reason}") from exc


def wait(
    factory: store.Factory,
    job_id: str,
    *,
    poll_s: float = 0.5,
    timeout_s: float | None = None,
    on_update: Callable[[Job], None] | None = None,
) -> Job:
    """Poll the job until it is finished; ``on_update`` sees every poll. TimeoutError
    after ``timeout_s``."""
    start = time.monotonic()
    while True:
        job = store.get_job(factory, job_id)
        if job is None:
            raise KeyError(job_id)
        if on_update is not None:
            on_update(job)
        if job.status in JOB_FINISHED:
            return job
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            raise TimeoutError(f"job {job_id} still {job.status} after {timeout_s:.0f} s")
        time.sleep(poll_s)
