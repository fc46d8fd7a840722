"""Submitting jobs and waiting for them (shared by the CLI and the API)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from smartalbum.config import Settings
from smartalbum.jobs import store
from smartalbum.library.schema import JOB_FINISHED, Job


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
    job_id = store.create_job(factory, "index", params)
    app = app or make_celery(settings)
    app.conf.smartalbum_tasks["plan"].delay(job_id)
    return job_id


def submit_job(
    settings: Settings,
    factory: store.Factory,
    kind: str,
    params: dict[str, Any],
    *,
    app: Any = None,
) -> str:
    """Create a whole-job ``kind`` job (see jobs.kinds) and send its task; returns its id."""
    from smartalbum.jobs.app import make_celery

    if kind == "index":
        return submit_index(settings, factory, params.get("paths", []), app=app)
    job_id = store.create_job(factory, kind, params)
    app = app or make_celery(settings)
    app.conf.smartalbum_tasks["run"].delay(job_id)
    return job_id


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
