"""Web serving benchmark: ``smartalbum serve`` versus the seed's shape. Prints one JSON object.

Both servers run as subprocesses (so their memory can be read from /proc) on 127.0.0.1 and
get the same load: ``--clients`` threads posting 12 MP JPEGs from ``bench/common.py``, every
photo once, so Smart Album's result cache cannot help (it is also switched off with
SMARTALBUM_WEB__CACHE_SIZE=0). Measured: throughput (photos/s), request latency p50/p99,
5xx count, server RSS.

- ``smartalbum``: the real app (``smartalbum.web.server.serve``: gunicorn, one process per
  core x 8 threads, the default bundle, or the tiny test bundle when the default is absent: the JSON says which),
  one photo per request; ``smartalbum_batch4``: four photos per request, as the page sends.
- ``seed``: what the seed did: Flask's development server with ``threaded=False``, one photo
  per request, full-size ``cv2.imdecode``, resize to 224, luma equalisation, and an eager
  PyTorch ResNet-18 (random weights) at batch 1.

The servers take turns for ``--rounds`` rounds (default 3) and each one's median round is
reported, with every round's throughput: on a shared 2-core VM one round can be 20 % off.

Usage: ``python bench/bench_web.py [--photos 100] [--clients 8] [--rounds 3]`` (a few minutes
on 2 cores; the first run also makes the photos, about 1 s each, cached in
bench/out/photos-12mp).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import requests

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from common import generate_photos  # noqa: E402
from seed import SEED_LABELS, resnet18, seed_classify  # noqa: E402

DEFAULT_BUNDLE = REPO_ROOT / "src" / "smartalbum" / "model" / "default"


# -- servers (run in subprocesses) ----------------------------------------------------------


def serve_smartalbum(port: int) -> None:
    """The production path, configured from SMARTALBUM_* variables like any deployment."""
    from smartalbum.config import Settings
    from smartalbum.web.server import serve

    serve(Settings(), host="127.0.0.1", port=port)


def serve_seed(port: int) -> None:
    """The seed's request path, as it was: no batching, full decode, eager torch."""
    import logging

    import torch
    from flask import Flask, jsonify, request

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    torch.manual_seed(0)
    model = resnet18(len(SEED_LABELS))
    app = Flask("seed")

    @app.post("/classify")
    def classify():
        label = seed_classify(request.files["file"].read(), model)
        return jsonify({"class": label})

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    app.run(host="127.0.0.1", port=port, threaded=False)


# -- load generation -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree(pid: int) -> list[int]:
    """The process and all its descendants (gunicorn runs one worker per core)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        with contextlib.suppress(OSError):
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
    return pids


def memory_mb(pid: int) -> dict[str, float]:
    """Resident memory of a server: current and peak, summed over its processes (Linux)."""
    out = {"rss_mb": 0.0, "peak_rss_mb": 0.0, "processes": 0}
    for p in _tree(pid):
        try:
            lines = Path(f"/proc/{p}/status").read_text().splitlines()
        except OSError:
            continue
        out["processes"] += 1
        for line in lines:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                k = "rss_mb" if key == "VmRSS" else "peak_rss_mb"
                out[k] = round(out[k] + int(value.split()[0]) / 1024, 1)
    return out


def start_server(role: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    start = time.perf_counter()
    with log.open("wb") as sink:  # a file, not a pipe: a full pipe would stall the server
        proc = subprocess.Popen(
            [sys.executable, __file__, f"_serve-{role}", "--port", str(port)],
            env={**os.environ, **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    while time.perf_counter() - start < 300:
        if proc.poll() is not None:
            raise RuntimeError(f"{role} server exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(f"{base}/healthz", timeout=2).ok:
                return proc, base, time.perf_counter() - start
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{role} server did not start")


def multipart(batch: list[tuple[str, bytes]]) -> tuple[str, bytes]:
    """A ready multipart/form-data body with one ``file`` part per photo."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, data in batch:
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{name}"\r\nContent-Type: image/jpeg\r\n\r\n')
        parts += [head.encode(), data, b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


def run_load(
    url: str, photos: list[tuple[str, bytes]], clients: int, per_request: int
) -> dict[str, object]:
    """``clients`` threads take requests of ``per_request`` photos from one shared list.

    Bodies are built before the clock starts and sent with http.client over keep-alive
    connections: the load generator shares the 2 cores with the server, so it must cost
    as little as possible (like wrk), for the seed's server and ours alike.
    """
    bodies = [multipart(photos[i : i + per_request]) for i in range(0, len(photos), per_request)]
    target = urlsplit(url)
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: list[int] = []

    def client() -> None:
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=600)
        while True:
            with lock:
                if not bodies:
                    conn.close()
                    return
                content_type, body = bodies.pop()
            t0 = time.perf_counter()
            try:
                conn.request("POST", target.path, body, {"Content-Type": content_type})
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=600)
                status = 599
            with lock:
                latencies.append(time.perf_counter() - t0)
                statuses.append(status)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ms = sorted(x * 1000 for x in latencies)
    return {
        "photos_per_request": per_request,
        "requests": len(ms),
        "wall_s": round(wall, 2),
        "throughput_photos_per_s": round(len(photos) / wall, 2),
        "latency_ms": {
            "p50": round(statistics.median(ms), 1),
            "p99": round(ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))], 1),
            "mean": round(statistics.fmean(ms), 1),
        },
        "errors_5xx": sum(s >= 500 for s in statuses),
        "non_200": sum(s != 200 for s in statuses),
    }


def measure(
    role: str,
    env: dict[str, str],
    path: str,
    photos: list[tuple[str, bytes]],
    clients: int,
    per_request: int,
    note: str,
    log: Path,
) -> dict[str, object]:
    proc, base, startup = start_server(role, env, log)
    try:
        for name, data in photos[:2]:  # warm up (first-call allocations, lazy imports)
            requests.post(f"{base}{path}", files={"file": (name, data)}, timeout=600)
        result = run_load(f"{base}{path}", photos, clients, per_request)
        result.update(memory_mb(proc.pid))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {"server": note, "startup_s": round(startup, 2), **result}


def median_run(results: list[dict[str, object]]) -> dict[str, object]:
    """The round with the median throughput (whole, so its figures belong together), plus
    every round's throughput and the worst p99 and RSS seen in any round."""
    ordered = sorted(results, key=lambda r: r["throughput_photos_per_s"])
    out = dict(ordered[(len(ordered) - 1) // 2])
    out["throughput_per_round"] = [r["throughput_photos_per_s"] for r in results]
    out["worst_p99_ms"] = max(r["latency_ms"]["p99"] for r in results)
    out["worst_rss_mb"] = max(r["rss_mb"] for r in results)
    out["errors_5xx_all_rounds"] = sum(r["errors_5xx"] for r in results)
    return out


def bundle_for_bench(out: Path) -> tuple[Path, str]:
    if (DEFAULT_BUNDLE / "bundle.json").is_file():
        return DEFAULT_BUNDLE, "default"
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from bundles import make_tiny_bundle

    path = out / "tiny-bundle"
    if not (path / "bundle.json").is_file():
        make_tiny_bundle(path)
    return path, "tiny test bundle: the default bundle is absent, so model time is ~0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    parser.add_argument("--skip-seed", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median kept)")
    args = parser.parse_args()

    from smartalbum.model.bundle import Bundle

    paths = generate_photos(args.out / "photos-12mp", args.photos)
    photos = [(p.name, p.read_bytes()) for p in paths]
    bundle_path, bundle_kind = bundle_for_bench(args.out)
    bundle = Bundle.load(bundle_path)
    env = {
        "SMARTALBUM_MODEL__BUNDLE": str(bundle_path),
        "SMARTALBUM_WEB__CACHE_SIZE": "0",
        "SMARTALBUM_WEB__RATE_LIMIT": "",
    }
    report: dict[str, object] = {
        "benchmark": "web",
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "photos": {
            "count": len(photos),
            "size": f"{4032}x{3024}",
            "mean_mb": round(sum(len(d) for _, d in photos) / len(photos) / 1e6, 2),
            "sideways_exif_6": sum(1 for i in range(len(photos)) if i % 5 == 4),
        },
        "clients": args.clients,
        "cache": "defeated: every photo is posted once, and SMARTALBUM_WEB__CACHE_SIZE=0",
        "bundle": {"name": bundle.name, "version": bundle.version, "kind": bundle_kind},
    }
    ours = "smartalbum serve (gunicorn gthread: one process per core x 8 threads)"
    seed_note = "Flask dev server (threaded=False), full cv2.imdecode, eager torch ResNet-18, batch 1"
    runs: dict[str, tuple[str, dict[str, str], str, int, str]] = {
        "smartalbum": ("smartalbum", env, "/api/v1/classify", 1, ours),
        "smartalbum_batch4": ("smartalbum", env, "/api/v1/classify", 4, ours),
    }
    if not args.skip_seed:
        runs["seed"] = ("seed", {}, "/classify", 1, seed_note)
    # Interleaved rounds: this machine's speed drifts by 10-20 % within a minute, so each
    # server is measured once per round and the medians are compared.
    rounds: dict[str, list[dict[str, object]]] = {key: [] for key in runs}
    for _ in range(args.rounds):
        for key, (role, role_env, path, per_request, note) in runs.items():
            rounds[key].append(
                measure(role, role_env, path, photos, args.clients, per_request, note,
                        args.out / f"{key}.log")
            )
    report["rounds"] = args.rounds
    for key, results in rounds.items():
        report[key] = median_run(results)
    if "seed" in report:
        seed_tp = report["seed"]["throughput_photos_per_s"]
        report["speedup_vs_seed"] = {
            k: round(report[k]["throughput_photos_per_s"] / seed_tp, 2)
            for k in ("smartalbum", "smartalbum_batch4")
        }
        report["speedup_vs_seed_per_round"] = {
            k: [
                round(ours_r["throughput_photos_per_s"] / seed_r["throughput_photos_per_s"], 2)
                for ours_r, seed_r in zip(rounds[k], rounds["seed"], strict=True)
            ]
            for k in ("smartalbum", "smartalbum_batch4")
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("_serve-"):
        role, port = sys.argv[1].removeprefix("_serve-"), int(sys.argv[3])
        (serve_smartalbum if role == "smartalbum" else serve_seed)(port)
    else:
        main()
