"""Face-scan throughput through Celery workers: photos/s with 1 and 2 workers. JSON.

A face scan is a chunked job (faces.jobs): the photos are cut into chunks that every
worker takes, and one final step assigns the faces to people. This measures what one more
worker adds. Photos: real ones with faces from ../shared/data (``wild/people`` and
``train_pool/people``, as they are: their sizes are in the output); without that folder the
benchmark says so and exits 0 (``{"skipped": ...}``).

Each round uses a fresh catalog (SQLite, the embedded broker; ``--scaleout``: a fresh
PostgreSQL database and Redis) holding the photos as the indexer stores them, starts N
``smartalbum worker`` processes, each pinned to its own core with ``taskset`` (worker i on
core i), waits until all N heartbeat (so chunks are sized for N), submits one ``faces``
job and times it from submit to the job row saying done (polled every 50 ms). The first
chunk of each worker includes loading dlib's models (~1 s), as a real scan does.

Usage: ``python bench/bench_facescan.py [--photos 40] [--workers 1 2] [--scaleout]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO_ROOT = BENCH.parent
SHARED = REPO_ROOT / ".." / "shared" / "data"
SOURCES = (SHARED / "wild" / "people", SHARED / "train_pool" / "people")
sys.path.insert(0, str(REPO_ROOT / "tests"))


def pick_photos(n: int) -> list[Path]:
    """``n`` photos with people, alternating the two sources (sorted, so repeatable)."""
    lists = [sorted(p for p in d.glob("*.jpg")) for d in SOURCES if d.is_dir()]
    out: list[Path] = []
    while len(out) < n and any(lists):
        for files in lists:
            if files and len(out) < n:
                out.append(files.pop(0))
    return out


def add_photos(factory, paths: list[Path]) -> None:
    """The photos in the catalog as the indexer stores them (Photo + File rows)."""
    from PIL import Image

    from smartalbum.library.schema import File, Photo

    with factory.begin() as s:
        for path in paths:
            data = path.read_bytes()
            with Image.open(path) as im:
                width, height = im.size
            photo = Photo(sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                          format="JPEG", width=width, height=height)  # fmt: skip
            s.add(photo)
            s.flush()
            st = path.stat()
            s.add(File(photo_id=photo.id, path=str(path.resolve()), size=st.st_size,
                       mtime_ns=st.st_mtime_ns))  # fmt: skip


def one_round(paths: list[Path], work: Path, workers: int, scaleout: bool) -> dict:
    from smartalbum.config import Settings
    from smartalbum.jobs import store
    from smartalbum.jobs.app import make_celery, reset
    from smartalbum.jobs.submit import submit_job, wait
    from smartalbum.library.db import dispose_all, open_catalog

    data = Path(tempfile.mkdtemp(dir=work))
    url, broker, pg = f"sqlite:///{data / 'catalog.sqlite3'}", None, None
    if scaleout:
        from library.catalogs import postgres_database

        pg = postgres_database()
        url, broker = pg.__enter__(), "redis://127.0.0.1:6379/11"
        import redis

        redis.Redis.from_url(broker).flushdb()
    settings = Settings(data_dir=data, database_url=url, broker_url=broker)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTALBUM_")}
    env.update(SMARTALBUM_DATA_DIR=str(data), SMARTALBUM_DATABASE_URL=url)
    if broker:
        env["SMARTALBUM_BROKER_URL"] = broker
    factory = open_catalog(settings)[1]
    add_photos(factory, paths)
    app = make_celery(settings)
    cores = os.cpu_count() or 1
    procs = [
        subprocess.Popen(
            ["taskset", "-c", str(i % cores), sys.executable, "-m", "smartalbum.cli", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for i in range(workers)
    ]
    try:
        deadline = time.monotonic() + 120
        while store.live_workers(factory) < workers and time.monotonic() < deadline:
            time.sleep(0.1)
        t0 = time.perf_counter()
        job_id = submit_job(settings, factory, "faces", {}, app=app)
        job = wait(factory, job_id, poll_s=0.05, timeout_s=3600)
        dt = time.perf_counter() - t0
        d = store.job_to_dict(job)
        assert d["status"] == "done" and d["done"] == d["total"], d
        with factory() as s:
            from sqlalchemy import func, select

            from smartalbum.library.schema import JobChunk

            chunks = s.scalar(
                select(func.count()).where(JobChunk.job_id == job_id, JobChunk.items != [])
            )
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        reset()
        dispose_all()
        if pg is not None:
            pg.__exit__(None, None, None)
    return {
        "workers": workers,
        "pinned": True,
        "photos": d["total"],
        "faces": d["result"]["faces"],
        "chunks": chunks,
        "seconds": round(dt, 2),
        "photos_per_s": round(d["total"] / dt, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--scaleout", action="store_true")
    args = parser.parse_args()
    paths = pick_photos(args.photos)
    if not paths:
        print(json.dumps({"skipped": f"no photos with people under {SHARED}"}))
        return
    if shutil.which("taskset") is None:
        print(json.dumps({"skipped": "taskset (util-linux) is needed to pin workers"}))
        return
    from PIL import Image

    sizes = []
    for p in paths:
        with Image.open(p) as im:
            sizes.append(im.size[0] * im.size[1])
    work = Path(tempfile.mkdtemp(prefix="bench_facescan_"))
    try:
        results = [one_round(paths, work, n, args.scaleout) for n in args.workers]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    by = {r["workers"]: r["photos_per_s"] for r in results}
    out = {
        "photos": len(paths),
        "sources": [str(s.relative_to(SHARED)) for s in SOURCES if s.is_dir()],
        "megapixels_median": round(sorted(sizes)[len(sizes) // 2] / 1e6, 2),
        "setup": "postgresql+redis" if args.scaleout else "sqlite+embedded broker",
        "cpus": os.cpu_count(),
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        "results": results,
        "speedup_2_vs_1": round(by[2] / by[1], 2) if 1 in by and 2 in by else None,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
