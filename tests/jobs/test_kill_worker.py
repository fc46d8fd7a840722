"""Two real ``smartalbum worker`` processes index a generated library; one is killed with
SIGKILL in the middle of a chunk. The job still completes, every photo is indexed exactly
once, and the progress seen while polling only grows and ends at the total.

Run twice: with Redis + PostgreSQL (the scale-out setup) and with the embedded broker +
SQLite (what ``smartalbum serve`` uses on a fresh machine). Redis and PostgreSQL are
skipped locally when absent and required under ``CI=true``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from library.catalogs import temporary_catalog
from smartalbum.jobs import store
from smartalbum.jobs.submit import submit_index
from smartalbum.library import db
from smartalbum.library.schema import Embedding, File, JobChunk, Photo

from .conftest import job_settings, require_redis

pytestmark = pytest.mark.services  # worker processes, Redis + PostgreSQL

N_PHOTOS = 160
REDIS_URL = "redis://127.0.0.1:6379/14"  # a database of its own, flushed by the test
STALE_AFTER_S = 2.0


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """160 distinct 640x480 JPEGs in 4 folders."""
    root = tmp_path_factory.mktemp("kill_jobs")
    rng = np.random.default_rng(9)
    base = rng.integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    for i in range(N_PHOTOS):
        image = np.roll(base, shift=i * 5, axis=1)
        image[:, :, i % 3] = np.clip(image[:, :, i % 3].astype(np.int16) + 50, 0, 255)
        folder = root / f"roll{i % 4}"
        folder.mkdir(exist_ok=True)
        Image.fromarray(image).save(folder / f"p{i:03d}.jpg", quality=90)
    return root


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "smartalbum.cli", "worker", "--concurrency", "1"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


@pytest.mark.parametrize("setup", ["redis+postgresql", "embedded+sqlite"])
def test_killed_worker_job_still_completes_exactly_once(
    setup: str, photo_dir: Path, tmp_path: Path, tiny_bundle_dir: Path
) -> None:
    from smartalbum.jobs.app import make_celery, reset

    backend = "postgresql" if setup.startswith("redis") else "sqlite"
    if backend == "postgresql":
        require_redis(REDIS_URL)
    with temporary_catalog(backend, tmp_path) as url:
        settings = job_settings(
            tmp_path / "data", url, tiny_bundle_dir, chunk_size=10, stale_after_s=STALE_AFTER_S
        )
        if backend == "postgresql":
            settings = settings.model_copy(update={"broker_url": REDIS_URL})
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTALBUM_")}
        env.update(
            SMARTALBUM_DATA_DIR=str(settings.data_dir),
            SMARTALBUM_DATABASE_URL=url,
            SMARTALBUM_MODEL__BUNDLE=str(tiny_bundle_dir),
            SMARTALBUM_MODEL__BATCH_SIZE="2",
            SMARTALBUM_JOBS__STALE_AFTER_S=str(STALE_AFTER_S),
            SMARTALBUM_JOBS__CHUNK_SIZE="10",
        )
        if settings.broker_url:
            env["SMARTALBUM_BROKER_URL"] = settings.broker_url
        factory = db.open_catalog(settings)[1]
        app = make_celery(settings)
        workers = [_worker(env, tmp_path / f"worker{i}.log") for i in range(2)]
        try:
            job_id = submit_index(settings, factory, [photo_dir], app=app)
            progress, victim = _kill_one_mid_chunk(factory, job_id, workers)
            job = _wait(factory, job_id, progress, timeout_s=120)
        finally:
            for w in workers:
                if w.poll() is None:
                    w.send_signal(signal.SIGTERM)
            for w in workers:
                try:
                    w.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    w.kill()
            reset()
        logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("*.log"))
        assert job.status == "done", logs
        assert job.total == job.done == N_PHOTOS and job.errors == 0
        assert progress == sorted(progress) and progress[-1] == N_PHOTOS
        with factory() as s:
            paths = list(s.scalars(select(File.path)))
            n_photos = s.scalar(select(func.count()).select_from(Photo))
            n_embeddings = s.scalar(select(func.count()).select_from(Embedding))
            chunks = s.execute(  # the index job's (the face scan queued after it has its own)
                select(JobChunk.status, JobChunk.attempts, JobChunk.claimed_by).where(
                    JobChunk.job_id == job_id
                )
            ).all()
        assert len(paths) == len(set(paths)) == N_PHOTOS
        assert set(paths) == {str(p) for p in photo_dir.rglob("*.jpg")}
        assert n_photos == n_embeddings == N_PHOTOS
        assert {status for status, _, _ in chunks} == {"done"}
        # the chunk the victim held was taken over and run again by the other worker
        assert any(attempts >= 2 for _, attempts, _ in chunks), chunks
        assert victim.returncode == -signal.SIGKILL


def _kill_one_mid_chunk(factory, job_id: str, workers: list[subprocess.Popen]):
    """Poll until a worker holds a chunk with some photos committed; SIGKILL that worker."""
    pids = {w.pid: w for w in workers}
    progress: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = store.get_job(factory, job_id)
        progress.append(job.done)
        with factory() as s:
            held = s.execute(
                select(JobChunk.claimed_by, JobChunk.done).where(
                    JobChunk.job_id == job_id, JobChunk.status == "running"
                )
            ).all()
        for claimed_by, done in held:
            pid = int(claimed_by.rsplit(":", 1)[1])
            if done > 0 and pid in pids:
                victim = pids[pid]
                victim.send_signal(signal.SIGKILL)
                victim.wait(timeout=10)
                return progress, victim
        if job.status == "done":
            pytest.fail("the job finished before a worker could be killed mid-chunk")
        time.sleep(0.02)
    pytest.fail("no worker started a chunk within 60 s")


def _wait(factory, job_id: str, progress: list[int], timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = store.get_job(factory, job_id)
        progress.append(job.done)
        if job.status in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    return store.get_job(factory, job_id)
