"""State has one home (issue 14): a web node and two workers on private data dirs agree.

Each node runs in its own mount namespace with a private tmpfs as its data dir
(tests/scaleout/nodes.py); they share only PostgreSQL and Redis, as separate machines do.
The photo folder of the retrain case stands for a shared photo mount (a NAS): it is the
one thing besides the catalog and the broker that every node reads.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from library.photos import COLOURS, encode, picture
from smartalbum.library import db
from smartalbum.library.catalog import add_correction
from smartalbum.library.schema import File

from .nodes import DATA_MOUNT, Cluster, Node, cluster

pytestmark = [pytest.mark.services, pytest.mark.slow]

REDIS_DB = 12  # the broker database of these tests (test_kill_worker uses 14)
ORANGE = (235, 140, 20)


def _wait_job(web: Node, location: str, c: Cluster, timeout_s: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status, job = web.get_json(location)
        assert status == 200, job
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.3)
    pytest.fail(f"job {location} not finished in {timeout_s} s:\n{c.logs()}")


def _classify(web: Node, photo: bytes, head: str) -> str:
    status, out = web.post_files(f"/api/v1/classify?head={head}", [("file", "o.jpg", photo)])
    assert status == 200, out
    return out["results"][0]["label"] if "results" in out else out["label"]


def test_nodes_have_private_data_dirs(tmp_path: Path, tiny_bundle_dir: Path) -> None:
    with cluster(tmp_path, tiny_bundle_dir, redis_db=REDIS_DB) as c:
        web = c.start_web()
        w1 = c.start_worker()
        c.wait_ready()
        w1.run(["sh", "-c", f"echo secret > {DATA_MOUNT}/only-here"], check=True)
        assert w1.run(["cat", f"{DATA_MOUNT}/only-here"]).stdout.strip() == "secret"
        assert web.run(["ls", "-A", str(DATA_MOUNT)]).stdout.split().count("only-here") == 0
        assert not (DATA_MOUNT / "only-here").exists()


def test_photos_dropped_as_a_job_are_classified_by_workers_on_other_machines(
    tmp_path: Path, tiny_bundle_dir: Path
) -> None:
    """Every drop of > 40 photos used to end ``errors N file_unreadable``: the uploads sat
    in the web node's data dir, which the workers cannot read."""
    names = list(COLOURS)
    photos = [
        ("file", f"IMG_{i:04d}.jpg", encode(picture(COLOURS[names[i % 3]], seed=300 + i)))
        for i in range(45)
    ]
    with cluster(tmp_path, tiny_bundle_dir, redis_db=REDIS_DB) as c:
        web = c.start_web()
        c.start_worker()
        c.start_worker()
        c.wait_ready()
        status, job = web.post_files("/api/v1/jobs/classify?head=colours", photos)
        assert status == 202, job
        job = _wait_job(web, f"/api/v1/jobs/{job['id']}", c)
        assert job["status"] == "done", c.logs()
        assert job["done"] == job["total"] == 45 and job["errors"] == 0, job
        results = job["result"]["results"]
        assert [r["path"] for r in results] == [name for _, name, _ in photos]
        assert [r["label"] for r in results] == [names[i % 3] for i in range(45)]


def _runs(worker: Node) -> int:
    """Whole jobs this worker has received so far (its INFO log names each task)."""
    log = worker.log.read_text(errors="replace")
    return sum(
        1 for line in log.splitlines() if "smartalbum.job.run[" in line and "received" in line
    )


def _bundle_with_training_embeddings(tmp_path: Path, tiny: Path) -> Path:
    """The tiny bundle plus shipped training embeddings, so its heads can be retrained."""
    from bundles import ship_training_embeddings

    path = Path(shutil.copytree(tiny, tmp_path / "bundle"))
    ship_training_embeddings(path)
    return path


def test_a_head_retrained_on_one_worker_is_served_everywhere_within_seconds(
    tmp_path: Path, tiny_bundle_dir: Path
) -> None:
    """The retrained head used to be saved in that worker's data dir only: the web node
    and the other worker kept the shipped head."""
    bundle = _bundle_with_training_embeddings(tmp_path, tiny_bundle_dir)
    library = tmp_path / "photos"  # the shared photo mount
    library.mkdir()
    for i in range(12):
        (library / f"orange_{i:02d}.jpg").write_bytes(encode(picture(ORANGE, seed=i)))
    for label, colour in COLOURS.items():
        for i in range(4):
            (library / f"{label}_{i}.jpg").write_bytes(encode(picture(colour, seed=50 + i)))
    orange = encode(picture(ORANGE, seed=999))  # never seen by any head
    with cluster(tmp_path, bundle, redis_db=REDIS_DB) as c:
        web = c.start_web()
        w1, w2 = c.start_worker(), c.start_worker()
        c.wait_ready()
        assert _classify(web, orange, "colours") == "red"  # what the shipped head thinks
        status, job = web.post_json("/api/v1/jobs", {"kind": "index", "paths": [str(library)]})
        assert status == 202, job
        assert _wait_job(web, f"/api/v1/jobs/{job['id']}", c)["status"] == "done"
        _, factory = db.open_catalog(url=c.database_url)
        with factory.begin() as s:
            for path, photo_id in s.execute(select(File.path, File.photo_id)):
                if Path(path).name.startswith("orange_"):
                    add_correction(s, photo_id, "green", head="colours")
        runs_before = [_runs(w1), _runs(w2)]
        status, job = web.post_json("/api/v1/retrain", {})  # runs on one of the workers
        assert status == 202, job
        job = _wait_job(web, f"/api/v1/jobs/{job['id']}", c)
        assert job["status"] == "done", c.logs()
        [report] = [r for r in job["result"]["reports"] if r.get("head") == "colours"]
        assert report["accepted"], report
        retrained_at = time.monotonic()
        while _classify(web, orange, "colours") != "green":  # the running web engine
            assert time.monotonic() - retrained_at < 10, c.logs()
            time.sleep(0.5)
        # the other worker, still running (the one that retrained is stopped): new head
        retrainer = w1 if _runs(w1) > runs_before[0] else w2
        other = w2 if retrainer is w1 else w1
        retrainer.stop()
        status, job = web.post_files(
            "/api/v1/jobs/classify?head=colours", [("file", "o.jpg", orange)]
        )
        assert status == 202, job
        job = _wait_job(web, f"/api/v1/jobs/{job['id']}", c)
        assert job["status"] == "done" and job["result"]["results"][0]["label"] == "green", job
        assert _runs(other) > runs_before[1 if other is w2 else 0]
        (library / "orange_new.jpg").write_bytes(orange)
        # a command on that machine (its data dir does not hold the new version)
        out = other.run_cli(
            "classify", str(library / "orange_new.jpg"), "--head", "colours", "--format", "json"
        )
        assert out.returncode == 0 and '"green"' in out.stdout, out.stderr + out.stdout
        listed = other.run_cli("head", "list", "colours")
        assert listed.returncode == 0 and "* v1" in listed.stdout, listed


def test_uploaded_examples_are_usable_on_every_node(tmp_path: Path) -> None:
    """Uploaded examples used to live on the web node that received them: thumbnails were
    404 on other web nodes and `category explain` failed on a worker. (The shipped bundle:
    explain needs its features model.)"""
    from smartalbum.model.bundle import DEFAULT_BUNDLE_DIR

    examples = [
        ("examples", f"car{i}.jpg", encode(picture(COLOURS["blue"], seed=700 + i)))
        for i in range(3)
    ] + [
        ("counter_examples", f"not{i}.jpg", encode(picture(COLOURS["red"], seed=800 + i)))
        for i in range(3)
    ]
    with cluster(tmp_path, Path(DEFAULT_BUNDLE_DIR), redis_db=REDIS_DB) as c:
        web = c.start_web()
        other_web = c.start_web("web2")
        worker = c.start_worker()
        c.wait_ready()
        status, made = web.post_files("/api/v1/categories", examples, {"name": "my car"})
        assert status == 201, made
        _, factory = db.open_catalog(url=c.database_url)
        with factory() as s:
            stored = list(s.execute(select(File.path, File.photo_id)))
        assert len(stored) == 6
        for _path, photo_id in stored:
            status, _, body = other_web.request("GET", f"/api/v1/photos/{photo_id}/thumbnail")
            assert status == 200 and body[:2] == b"\xff\xd8", body[:300]
            status, _, body = other_web.request(
                "GET", f"/api/v1/photos/{photo_id}/explain?category=my%20car"
            )
            assert status == 200 and body[:4] == b"\x89PNG", body[:300]
        path = stored[0][0]
        out = worker.run_cli(
            "category", "explain", path, "--category", "my car", "-o", f"{DATA_MOUNT}/heat.png"
        )
        assert out.returncode == 0, out.stderr + out.stdout
        status, job = other_web.post_json("/api/v1/retrain", {"names": ["my car"]})
        assert status == 202, job
        assert _wait_job(other_web, f"/api/v1/jobs/{job['id']}", c)["status"] == "done"
