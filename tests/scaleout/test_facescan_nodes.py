"""A face scan spread over two workers on separate "machines" (issue 14).

Each worker runs in its own mount namespace with a private tmpfs as its data dir
(tests/scaleout/nodes.py); they share only PostgreSQL, Redis and the photo folder (a NAS).
A scan used to be one task on one worker, and killing it ended the job ``done 89/89`` of 120.
Now the photos are chunked over both workers, each photo is scanned exactly once, one final
step assigns the faces to people, and a worker killed mid-scan loses nothing: its chunk is
sent again, progress (sampled all along) never goes down, and the job ends done = total.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from smartalbum.config import Settings
from smartalbum.library import db
from smartalbum.library.schema import File, Job, JobChunk, JobWorker, Photo
from smartalbum.library.schema_faces import ASSIGNED_PENDING, Face, FaceScan

from .nodes import Cluster, Node, cluster

pytestmark = [pytest.mark.services, pytest.mark.slow]
skdata = pytest.importorskip("skimage.data", reason="scikit-image (dev extra) gives real faces")

REDIS_DB = 13  # the broker database of these tests (shared state: 12, test_kill_worker: 14)
N_PHOTOS = 40
FAST = {  # a dead worker's chunk is re-sent after 3 s
    "SMARTALBUM_JOBS__STALE_AFTER_S": "3",
    "SMARTALBUM_FACES__UPSAMPLE": "0",
    "SMARTALBUM_FACES__DETECT_SIZE": "1600",
}


def _photos(folder: Path, n: int) -> list[Path]:
    """``n`` distinct 1600x1200 JPEGs, each with the astronaut's face somewhere."""
    folder.mkdir(parents=True, exist_ok=True)
    face = skdata.astronaut()[0:300, 60:400]
    rng = np.random.default_rng(14)
    out = []
    for i in range(n):
        canvas = rng.integers(40, 200, size=(1200, 1600, 3), dtype=np.uint8)
        y, x = 100 + (i * 37) % 700, 100 + (i * 53) % 1100
        canvas[y : y + face.shape[0], x : x + face.shape[1]] = face
        path = folder / f"IMG_{i:04d}.jpg"
        Image.fromarray(canvas).save(path, quality=90)
        out.append(path)
    return out


def _catalog(c: Cluster, paths: list[Path]):
    """The shared catalog with ``paths`` in it as the indexer stores them (Photo + File)."""
    _, factory = db.open_catalog(
        Settings(data_dir=c.log_dir / "test-data", database_url=c.database_url)
    )
    with factory.begin() as s:
        for path in paths:
            data = path.read_bytes()
            photo = Photo(
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                format="JPEG",
                width=1600,
                height=1200,
            )
            s.add(photo)
            s.flush()
            st = path.stat()
            s.add(File(photo_id=photo.id, path=str(path), size=st.st_size, mtime_ns=st.st_mtime_ns))
    return factory


def _wait_for_workers(factory, n: int, c: Cluster, timeout_s: float = 60) -> None:
    """Until ``n`` workers heartbeat (planning sizes the chunks by them)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with factory() as s:
            if s.scalar(select(func.count()).select_from(JobWorker)) >= n:
                return
        time.sleep(0.2)
    pytest.fail(f"{n} workers did not heartbeat:\n{c.logs()}")


def _start_scan(web: Node) -> str:
    status, job = web.post_json("/api/v1/people/scan", {})
    assert status == 202, job
    return job["id"]


def _follow(web: Node, job_id: str, c: Cluster, samples: list[dict[str, Any]], until=None):
    """Poll the job through the web node's API, keeping every sample, until it is finished
    (or ``until(sample)`` is true); returns the last sample."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        status, job = web.get_json(f"/api/v1/jobs/{job_id}")
        assert status == 200, job
        samples.append(job)
        if job["status"] in ("done", "failed", "cancelled") or (until and until(job)):
            return job
        time.sleep(0.1)
    pytest.fail(f"job {job_id} not finished:\n{c.logs()}")


def _assert_every_photo_scanned_once(factory, job_id: str, samples: list[dict]) -> None:
    job = samples[-1]
    assert job["status"] == "done", job
    assert job["done"] == job["total"] == N_PHOTOS and job["errors"] == 0, job
    done = [s["done"] for s in samples]
    assert done == sorted(done), done  # progress never went down
    assert {s["total"] for s in samples if s["total"] is not None} == {N_PHOTOS}  # fixed
    with factory() as s:
        scans = s.execute(select(FaceScan.photo_id, FaceScan.faces)).all()
        faces_per_photo = dict(
            s.execute(select(Face.photo_id, func.count()).group_by(Face.photo_id)).all()
        )
        pending = s.scalar(select(func.count()).where(Face.assigned_by == ASSIGNED_PENDING))
        assigned = s.scalar(select(func.count()).where(Face.person_id.is_not(None)))
        items = [i for row in s.scalars(select(JobChunk.items).where(JobChunk.job_id == job_id))
                 for i in row]  # fmt: skip
    assert len(scans) == len({p for p, _ in scans}) == N_PHOTOS  # each photo once
    assert {p: n for p, n in scans if n} == faces_per_photo  # no face stored twice
    assert len(items) == len(set(items)) == N_PHOTOS  # planned once, each photo in one chunk
    assert pending == 0 and assigned >= N_PHOTOS  # the final step grouped them: one person
    assert job["result"]["photos"] == N_PHOTOS


def test_a_face_scan_is_split_over_two_workers_each_photo_once(
    tmp_path: Path, tiny_bundle_dir: Path
) -> None:
    paths = _photos(tmp_path / "nas", N_PHOTOS)
    with cluster(tmp_path, tiny_bundle_dir, redis_db=REDIS_DB, **FAST) as c:
        factory = _catalog(c, paths)
        web = c.start_web()
        c.start_worker()
        c.start_worker()
        c.wait_ready()
        _wait_for_workers(factory, 2, c)
        job_id = _start_scan(web)
        samples: list[dict[str, Any]] = []
        _follow(web, job_id, c, samples)
        with factory() as s:
            chunks = s.execute(
                select(JobChunk.items, JobChunk.claimed_by).where(JobChunk.job_id == job_id)
            ).all()
            workers = {w for _, w in chunks if w}
        _assert_every_photo_scanned_once(factory, job_id, samples)
        # chunk size for 40 photos on 2 workers: 40 / (2 x 4) = 5, so 8 chunks + the final step
        assert sorted(len(items) for items, _ in chunks) == [0] + [5] * 8, chunks
        assert len(workers) == 2, (workers, c.logs())  # both workers scanned
        assert not any(s["stalled"] for s in samples), [s for s in samples if s["stalled"]]


def test_a_worker_killed_mid_scan_the_job_still_ends_with_every_photo_once(
    tmp_path: Path, tiny_bundle_dir: Path
) -> None:
    paths = _photos(tmp_path / "nas", N_PHOTOS)
    with cluster(tmp_path, tiny_bundle_dir, redis_db=REDIS_DB, **FAST) as c:
        factory = _catalog(c, paths)
        web = c.start_web()
        workers = [c.start_worker(), c.start_worker()]
        c.wait_ready()
        _wait_for_workers(factory, 2, c)
        job_id = _start_scan(web)
        samples: list[dict[str, Any]] = []
        victim = _kill_one_mid_chunk(factory, web, job_id, workers, c, samples)
        _follow(web, job_id, c, samples)
        with factory() as s:
            attempts = list(s.scalars(select(JobChunk.attempts).where(JobChunk.job_id == job_id)))
            status = s.scalar(select(Job.status).where(Job.id == job_id))
        assert not victim.alive() and status == "done"
        _assert_every_photo_scanned_once(factory, job_id, samples)
        assert max(attempts) >= 2, attempts  # the victim's chunk was run again


def _kill_one_mid_chunk(factory, web: Node, job_id: str, workers: list[Node], c, samples):
    """Sample progress until a worker holds a chunk with photos committed; SIGKILL it."""
    by_pid = {w.pid: w for w in workers}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, job = web.get_json(f"/api/v1/jobs/{job_id}")
        samples.append(job)
        if job["status"] == "done":
            pytest.fail("the scan finished before a worker could be killed mid-chunk")
        with factory() as s:
            held = s.execute(
                select(JobChunk.claimed_by, JobChunk.done).where(
                    JobChunk.job_id == job_id, JobChunk.status == "running"
                )
            ).all()
        for claimed_by, done in held:
            victim = by_pid.get(int(claimed_by.rsplit(":", 1)[1]))
            if done > 0 and victim is not None:
                victim.kill()
                return victim
        time.sleep(0.05)
    pytest.fail(f"no worker started a chunk in time:\n{c.logs()}")
