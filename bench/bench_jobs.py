"""Background-job benchmark: index throughput through Celery workers vs in-process. JSON.

On the same 12 MP JPEGs (bench/common.py), each on a fresh catalog:

- ``in_process``: ``Indexer.run`` in this process (what ``smartalbum index`` does, without
  the process start); photos/s from its own clock.
- ``jobs_1_worker`` / ``jobs_2_workers``: ``smartalbum worker`` processes (warmed up by a
  small job first, so the model load is not counted), a job submitted, timed from
  submit to the job row saying done (polled every 50 ms). ``overhead_ratio`` = job rate /
  in-process rate (target >= 0.85 with one worker).
- ``pinned``: workers pinned to one core each (``taskset``): the per-core rate, and two
  pinned workers; what one more machine adds is modelled as its cores x the per-core rate.

Broker and catalog: the embedded ones (filesystem broker, SQLite) by default; ``--scaleout``
uses Redis (127.0.0.1:6379/12) and a fresh PostgreSQL database as a multi-machine setup would.

Usage: ``python bench/bench_jobs.py [--photos 120] [--rounds 2] [--scaleout]``.
"""

from __future__ import annotations

import argparse
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
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO_ROOT / "tests"))

from bench_index import pick_bundle  # noqa: E402
from common import generate_photos  # noqa: E402


def in_process(root: Path, url: str, bundle: Path) -> dict:
    from smartalbum.features import load_features
    from smartalbum.library.db import open_catalog
    from smartalbum.library.indexer import Indexer
    from smartalbum.model.engine import Engine

    load_features()  # the after-index hooks (tags), as the CLI has them
    _, factory = open_catalog(url=url)
    engine = Engine.load(bundle, threads=1)
    summary = Indexer(factory, engine, workers=2).run([root])
    n = summary.new + summary.reused
    return {"photos": n, "seconds": round(summary.seconds, 2),
            "photos_per_s": round(n / summary.seconds, 2)}


def through_jobs(root: Path, warm: Path, work: Path, bundle: Path, workers: int,
                 pin: bool, scaleout: bool) -> dict:
    from smartalbum.config import Settings
    from smartalbum.jobs import store
    from smartalbum.jobs.app import make_celery
    from smartalbum.jobs.submit import submit_index, wait
    from smartalbum.library.db import dispose_all, open_catalog

    data = Path(tempfile.mkdtemp(dir=work))
    url, broker = f"sqlite:///{data / 'catalog.sqlite3'}", None
    pg = None
    if scaleout:
        from library.catalogs import postgres_database

        pg = postgres_database()
        url, broker = pg.__enter__(), "redis://127.0.0.1:6379/12"
        import redis

        redis.Redis.from_url(broker).flushdb()
    settings = Settings(data_dir=data, database_url=url, broker_url=broker,
                        model={"bundle": bundle}, faces={"auto_scan": False})
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTALBUM_")}
    env.update(SMARTALBUM_DATA_DIR=str(data), SMARTALBUM_DATABASE_URL=url,
               SMARTALBUM_MODEL__BUNDLE=str(bundle),
               # index throughput only: no face scan queued after each index job
               SMARTALBUM_FACES__AUTO_SCAN="false")
    if broker:
        env["SMARTALBUM_BROKER_URL"] = broker
    factory = open_catalog(settings)[1]
    app = make_celery(settings)
    procs = []
    for i in range(workers):
        cmd = [sys.executable, "-m", "smartalbum.cli", "worker"]
        if pin:
            cmd = ["taskset", "-c", str(i % (os.cpu_count() or 1)), *cmd]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
    try:
        # warm-up: one chunk per worker, so every worker has loaded the model
        wait(factory, submit_index(settings, factory, [warm], chunk_size=1, app=app),
             poll_s=0.05, timeout_s=300)
        t0 = time.perf_counter()
        job_id = submit_index(settings, factory, [root], app=app)
        job = wait(factory, job_id, poll_s=0.05, timeout_s=1200)
        dt = time.perf_counter() - t0
        d = store.job_to_dict(job)
        assert d["status"] == "done" and d["done"] == d["total"], d
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
        dispose_all()
        if pg is not None:
            pg.__exit__(None, None, None)
    return {"workers": workers, "pinned": pin, "photos": d["total"], "seconds": round(dt, 2),
            "photos_per_s": round(d["total"] / dt, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scaleout", action="store_true")
    parser.add_argument("--cache", type=Path, default=BENCH / "out" / "photos")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_jobs_"))
    try:
        bundle, how = pick_bundle(work)
        paths = generate_photos(args.cache, args.photos)
        root = work / "photos"
        root.mkdir()
        for p in paths:
            os.link(p, root / p.name) if p.stat().st_dev == root.stat().st_dev else shutil.copy(
                p, root / p.name)
        warm = work / "warm"
        warm.mkdir()
        for i in range(2):  # two distinct tiny photos: one warm-up chunk per worker
            from PIL import Image

            Image.new("RGB", (64, 48), (40 * i, 90, 200)).save(warm / f"w{i}.jpg")
        best: dict[str, dict] = {}

        def keep(name: str, result: dict) -> None:
            if name not in best or result["photos_per_s"] > best[name]["photos_per_s"]:
                best[name] = result

        for r in range(args.rounds):
            keep("in_process", in_process(root, f"sqlite:///{work / f'ip{r}.sqlite3'}", bundle))
            for n in (1, 2):
                keep(f"jobs_{n}_worker{'s' if n > 1 else ''}",
                     through_jobs(root, warm, work, bundle, n, False, args.scaleout))
        have_taskset = shutil.which("taskset") is not None
        if have_taskset:
            keep("pinned_1_worker", through_jobs(root, warm, work, bundle, 1, True,
                                                 args.scaleout))
            keep("pinned_2_workers", through_jobs(root, warm, work, bundle, 2, True,
                                                  args.scaleout))
        base = best["in_process"]["photos_per_s"]
        out = {
            "bundle": how,
            "photos": len(paths),
            "cores": os.cpu_count(),
            "broker": "redis + postgresql" if args.scaleout else "embedded (filesystem) + sqlite",
            **best,
            "overhead_ratio_1_worker": round(best["jobs_1_worker"]["photos_per_s"] / base, 3),
            "scaling_2_vs_1_workers": round(
                best["jobs_2_workers"]["photos_per_s"] / best["jobs_1_worker"]["photos_per_s"], 3
            ),
        }
        if have_taskset:
            per_core = best["pinned_1_worker"]["photos_per_s"]
            out["per_core_photos_per_s"] = per_core
            out["model_one_more_machine"] = (
                f"+{per_core:.1f} photos/s per core it brings (a 4-core machine: "
                f"+{4 * per_core:.0f} photos/s), while the catalog and broker keep up"
            )
        print(json.dumps(out, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
