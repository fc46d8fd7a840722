"""Memory of each role, for sizing (docs/deploy.md#sizing): resident memory (RSS) of a web
process (``serve --processes 1``) idle and while classifying uploads, and of a worker
(``smartalbum worker``, one task at a time) idle, while indexing and while scanning faces.

12 MP JPEGs made from the shared pool (bench/common.py), the shipped model, SQLite and the
embedded broker in a temporary data dir. RSS is sampled from /proc every 0.1 s and each
phase's peak is the sampled maximum. One JSON object is printed.

    .venv/bin/python bench/bench_memory_roles.py --photos 40
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import generate_photos  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """RSS of ``pid`` every ``period_s``, labelled with the phase set at the time."""

    def __init__(self, pid: int, period_s: float = 0.1) -> None:
        self.pid, self.period_s = pid, period_s
        self.phase = "idle"
        self.samples: dict[str, list[float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                self.samples.setdefault(self.phase, []).append(rss_mb(self.pid))
            except OSError:
                return

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, dict[str, float]]:
        return {
            phase: {"median_mb": round(statistics.median(v), 1), "peak_mb": round(max(v), 1)}
            for phase, v in self.samples.items()
            if v
        }


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "sa-12mp")
    args = parser.parse_args()
    photos = generate_photos(args.cache, n=args.photos)
    folder = Path(photos[0]).parent
    data = Path(tempfile.mkdtemp(prefix="sa-mem-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTALBUM_")}
    env.update(SMARTALBUM_DATA_DIR=str(data), SMARTALBUM_WEB__RATE_LIMIT="")
    port = _port()
    base = f"http://127.0.0.1:{port}"
    cli = [sys.executable, "-m", "smartalbum.cli"]
    serve = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--processes", "1", "--no-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = None
    out: dict[str, object] = {"photos": len(photos), "photo": "12 MP JPEG (4032x3024)"}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{base}/readyz", timeout=30).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline and serve.poll() is None, "serve did not start"
            time.sleep(0.5)
        with Sampler(serve.pid) as web:
            time.sleep(2)
            web.phase = "classifying"

            def post(chunk: list[str]) -> int:
                files = [("file", (Path(p).name, Path(p).read_bytes(), "image/jpeg")) for p in chunk]
                return requests.post(f"{base}/api/v1/classify", files=files, timeout=300).status_code

            chunks = [photos[i : i + 4] for i in range(0, len(photos), 4)]
            with ThreadPoolExecutor(args.clients) as pool:
                codes = list(pool.map(post, chunks))
            assert set(codes) == {200}, codes
            web.phase = "after"
            time.sleep(2)
        out["web"] = {"clients": args.clients, **web.summary()}
        worker = subprocess.Popen(
            [*cli, "worker", "--loglevel", "WARNING"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with Sampler(worker.pid) as sampler:
            deadline = time.monotonic() + 120
            while subprocess.run([*cli, "worker", "--check"], env=env, capture_output=True).returncode:
                assert time.monotonic() < deadline and worker.poll() is None
                time.sleep(0.5)
            time.sleep(2)
            requests.post(
                f"{base}/api/v1/jobs", json={"kind": "index", "paths": [str(folder)]}, timeout=30
            ).raise_for_status()
            started = time.monotonic()
            finished = ("done", "failed", "cancelled")
            while time.monotonic() - started < 1800:
                jobs = requests.get(f"{base}/api/v1/jobs", timeout=30).json()["jobs"]
                running = sorted({j["kind"] for j in jobs if j["status"] == "running"})
                sampler.phase = "+".join(running) or "idle"
                kinds = {j["kind"] for j in jobs}
                # the index job, then the face scan it queues (SMARTALBUM_FACES__AUTO_SCAN)
                if "faces" in kinds and all(j["status"] in finished for j in jobs):
                    break
                time.sleep(0.2)
            out["jobs"] = [
                {k: j[k] for k in ("kind", "status", "done", "total", "errors", "rate")}
                for j in jobs
            ]
        out["worker"] = sampler.summary()
    finally:
        print(json.dumps(out, indent=2), flush=True)
        for proc in (worker, serve):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


if __name__ == "__main__":
    main()
