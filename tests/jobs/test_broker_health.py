"""Issue 16 item 3: a full disk must not break the job system for good.

The embedded broker's files are repaired on start, ``/readyz`` names a broker or worker
that is down, ``serve`` restarts a worker that died, and a disk that fills while a job is
submitted is a 507 problem / a one-line CLI error, with the job failed, never left queued.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from smartalbum.jobs import store
from smartalbum.jobs.app import embedded_base, make_celery, reset
from smartalbum.jobs.embedded import Supervisor, running_worker, worker_problem
from smartalbum.jobs.submit import submit_job, wait
from smartalbum.library.db import open_catalog
from smartalbum.web import create_app


@pytest.fixture
def settings(app_settings):
    yield app_settings(
        model={"batch_size": 4},
        jobs={"chunk_size": 4, "stale_after_s": 2},
        web={"ready_cache_s": 0},  # readiness is asked again after a change
    )
    reset()


def _age(path: Path, seconds: float = 60.0) -> None:
    """As if a crash long ago had left the file so."""
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_embedded_broker_recovers_after_its_files_were_truncated(
    settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMARTALBUM_JOBS__STALE_AFTER_S", "2")  # the worker's sweep, quickly
    factory = open_catalog(settings)[1]
    first = submit_job(settings, factory, "rehead", {})  # creates the exchange table
    base = embedded_base(settings)
    table = base / "control" / "smartalbum.exchange"
    (message,) = (base / "queue").glob("*.msg")
    table.write_bytes(b"")  # the disk filled: 0 bytes, as found in the field
    message.write_bytes(message.read_bytes()[:20])
    for path in (table, message):
        _age(path)
    reset()  # a fresh process: the server and its worker start again
    with running_worker(settings):
        second = submit_job(settings, factory, "rehead", {})
        job = wait(factory, second, poll_s=0.2, timeout_s=90)
        assert job.status == "done", job.message
        # the job whose message was damaged is sent again by the sweep, and runs too
        assert wait(factory, first, poll_s=0.2, timeout_s=60).status == "done"
    assert (base / "damaged" / message.name).exists()
    assert table.stat().st_size > 0


def test_a_worker_that_dies_is_restarted_and_readyz_says_when_it_is_down(settings) -> None:
    client = create_app(settings).test_client()
    assert client.get("/readyz").status_code == 200
    supervisor = Supervisor(settings, [sys.executable, "-c", "raise SystemExit(3)"]).start()
    try:
        deadline = time.monotonic() + 20
        while supervisor.restarts < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert supervisor.restarts >= 1  # started again after it died
        while worker_problem(settings) is None and time.monotonic() < deadline:
            time.sleep(0.05)  # the restarted one dies too; then 2 s of backoff
        assert "exit code 3" in worker_problem(settings)
        response = client.get("/readyz")
        assert response.status_code == 503, response.get_data(as_text=True)
        problem = response.get_json()
        assert problem["code"] == "not_ready" and "worker" in problem["down"]
        assert "broker" not in problem["down"]
    finally:
        supervisor.stop()
    assert worker_problem(settings) is None
    assert client.get("/healthz").status_code == 200  # liveness is not readiness


def test_readyz_says_when_the_broker_is_damaged(settings) -> None:
    client = create_app(settings).test_client()
    make_celery(settings)
    table = embedded_base(settings) / "control" / "smartalbum.exchange"
    table.write_bytes(b"")
    _age(table)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "broker" in response.get_json()["down"]


@pytest.fixture
def disk_full(monkeypatch: pytest.MonkeyPatch):
    """Writing a broker message fails with ENOSPC, the way a full data dir fails it."""
    import kombu.transport.filesystem as fs

    real_open = open

    def full_open(file, mode="r", *args, **kwargs):
        if str(file).endswith(".msg") and "w" in mode:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(fs, "open", full_open, raising=False)


def test_a_job_post_on_a_full_disk_is_a_507_and_the_job_is_failed(
    settings, disk_full, tmp_path: Path
) -> None:
    (tmp_path / "photos").mkdir()
    client = create_app(settings).test_client()
    response = client.post("/api/v1/jobs", json={"kind": "index", "paths": [str(tmp_path)]})
    assert response.status_code == 507, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["code"] == "disk_full" and "no space left" in problem["detail"]
    (job,) = store.list_jobs(open_catalog(settings)[1])
    assert job.status == "failed" and "no space left" in job.message


def test_index_background_on_a_full_disk_is_a_one_line_error(
    settings, disk_full, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smartalbum.cli import main

    for key, value in {
        "SMARTALBUM_DATA_DIR": str(settings.data_dir),
        "SMARTALBUM_DATABASE_URL": settings.database_url,
        "SMARTALBUM_MODEL__BUNDLE": str(settings.model.bundle),
    }.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, ["index", str(tmp_path), "--background"])
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "no space left" in lines[0]
    assert "Traceback" not in result.output


def test_an_upload_job_on_a_full_disk_is_a_507_and_leaves_no_spool(
    settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The uploads wait in the catalog (issue 14): a catalog disk that fills up while they
    are stored is a 507, the job is failed (no worker waits for it) and nothing is left."""
    import io
    import sqlite3

    from sqlalchemy import func, select
    from sqlalchemy.exc import OperationalError

    from library.photos import COLOURS, encode, picture
    from smartalbum.jobs import store, uploads
    from smartalbum.library.db import open_catalog
    from smartalbum.library.schema_state import JobUpload

    def full_catalog(*args, **kwargs):
        raise OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(uploads, "store_uploads", full_catalog)
    client = create_app(settings).test_client()
    photo = encode(picture(COLOURS["red"], seed=1))
    response = client.post(
        "/api/v1/jobs/classify",
        data={"file": [(io.BytesIO(photo), "a.jpg")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 507, response.get_data(as_text=True)
    assert response.get_json()["code"] == "disk_full"
    factory = open_catalog(settings)[1]
    [job] = store.list_jobs(factory)
    assert job.status == "failed"
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(JobUpload)) == 0
    assert not (Path(settings.data_dir) / "uploads").exists()
