"""Soak (issue 16): many clients mixing good photos, bad files and bombs against a real
``smartalbum serve`` for a long time. Prints one JSON object.

The server is ``python -m smartalbum.cli serve`` as a user runs it (gunicorn, one process
per core, plus the embedded jobs worker), on a fresh data dir and SQLite catalog, with the
rate limit off (every client shares 127.0.0.1) and the default bundle (the tiny test bundle
when it is absent: the JSON says which). ``--clients`` threads (default 16) each loop until
``--duration`` ends, picking at random:

- ``good``: 1-4 real photos (``../shared/data`` train_pool, wild and edge cases; generated
  12 MP JPEGs when it is absent) to ``POST /api/v1/classify``;
- ``bad``: random bytes, an empty file, a truncated JPEG, text named .jpg, the damaged
  edge cases;
- ``bomb``: the 13000 x 13000 1-bit PNG (169 M pixels, under the limit; tests/imaging/bombs.py);
- ``path``: an index job of a non-file (``/dev/zero``, ``/dev/urandom``, ``/proc/self/mem``,
  a FIFO), which must be refused at once;
- ``read``: the catalog's photo list and the health probe.

Reported: requests and statuses per kind, the 5xx count (the target is 0), and the server's
resident memory (all its processes) sampled every ``--sample`` seconds; ``rss_growth_mb``
compares the end with the end of the first minute (the target: flat).

    python bench/bench_soak.py                    # 10 minutes, as the issue asks
    python bench/bench_soak.py --duration 180     # 3 minutes
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared" / "data"
DEFAULT_BUNDLE = REPO_ROOT / "src" / "smartalbum" / "model" / "default"
#: How often each kind of request is picked.
MIX = {"good": 55, "bad": 20, "bomb": 5, "path": 10, "read": 10}
NON_FILES = ["/dev/zero", "/dev/urandom", "/proc/self/mem"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_rss_mb(pid: int) -> dict[str, float]:
    """Resident memory of ``pid`` and all its descendants, MB, in total and per role:
    ``serve`` (the process started; gunicorn's master), ``web`` (gunicorn's workers, which
    answer the requests) and ``jobs`` (the embedded ``smartalbum worker`` and its pool)."""
    roles: dict[str, float] = collections.defaultdict(float)
    todo, in_jobs = [pid], set()
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError):
            children = [int(c) for c in
                        Path(f"/proc/{p}/task/{p}/children").read_text().split()]
            cmdline = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ")
            if p != pid and (b" worker" in cmdline or p in in_jobs):
                role = "jobs"
                in_jobs.update(children)
            else:
                role = "serve" if p == pid else "web"
            todo += children
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    roles[role] += int(line.split()[1]) / 1024
    out = {role: round(mb, 1) for role, mb in sorted(roles.items())}
    out["total"] = round(sum(roles.values()), 1)
    return out


def good_photos(limit: int = 200) -> tuple[list[tuple[str, bytes]], str]:
    """Real photos from the shared data, else generated ones (bench/common.py)."""
    files = []
    for folder in ("train_pool", "wild", "edge_cases/orientation", "edge_cases/gps",
                   "edge_cases/cmyk", "edge_cases/png", "edge_cases/webp", "edge_cases/tiff"):
        base = SHARED / folder
        if base.is_dir():
            files += sorted(p for p in base.rglob("*") if p.suffix.lower() in
                            (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"))
    if files:
        random.Random(0).shuffle(files)
        return [(p.name, p.read_bytes()) for p in files[:limit]], "../shared/data"
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    from common import generate_photos

    out = REPO_ROOT / "bench" / "out" / "photos-12mp"
    return [(p.name, p.read_bytes()) for p in generate_photos(out, n=20)], "generated 12 MP"


def bad_files(good: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    rng = random.Random(1)
    jpeg = next(data for name, data in good if name.lower().endswith(".jpg"))
    bad = [
        ("empty.jpg", b""),
        ("noise.jpg", bytes(rng.getrandbits(8) for _ in range(50_000))),
        ("truncated.jpg", jpeg[: len(jpeg) // 3]),
        ("notes.jpg", b"just some text, not a photo\n" * 100),
        ("header-only.png", b"\x89PNG\r\n\x1a\n"),
    ]
    broken = SHARED / "edge_cases" / "broken"
    if broken.is_dir():
        bad += [(p.name, p.read_bytes()) for p in sorted(broken.iterdir()) if p.is_file()]
    return bad


def multipart(parts: list[tuple[str, bytes]]) -> list[tuple[str, tuple[str, io.BytesIO]]]:
    """``requests``' files= for one ``file`` part per photo."""
    return [("file", (name, io.BytesIO(data))) for name, data in parts]


def start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    with log.open("wb") as sink:  # a file, not a pipe: a full pipe would stall the server
        proc = subprocess.Popen(
            [sys.executable, "-m", "smartalbum.cli", "serve", "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, stdout=sink, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(f"{base}/healthz", timeout=2).ok:
                return proc, base
        except requests.RequestException:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("serve did not start")


def soak(base: str, pid: int, args: argparse.Namespace, good: list, bad: list, bomb: bytes,
         fifo: str) -> dict[str, object]:
    statuses: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    samples: list[dict[str, float]] = []
    lock = threading.Lock()
    start = time.monotonic()
    stop = start + args.duration
    kinds, weights = list(MIX), list(MIX.values())

    def one(session: requests.Session, rng: random.Random, kind: str) -> int:
        url = f"{base}/api/v1/classify"
        if kind == "good":
            parts = rng.sample(good, rng.randint(1, 4))
            return session.post(url, files=multipart(parts), timeout=600).status_code
        if kind == "bad":
            return session.post(url, files=multipart([rng.choice(bad)]), timeout=600).status_code
        if kind == "bomb":
            return session.post(url, files=multipart([("bomb.png", bomb)]),
                                timeout=600).status_code
        if kind == "path":
            path = rng.choice([*NON_FILES, fifo])
            return session.post(f"{base}/api/v1/jobs", json={"kind": "index", "paths": [path]},
                                timeout=600).status_code
        target = rng.choice(["/api/v1/photos?limit=50", "/healthz"])
        return session.get(base + target, timeout=600).status_code

    def client(seed: int) -> None:
        rng = random.Random(seed)
        with requests.Session() as session:
            while time.monotonic() < stop:
                kind = rng.choices(kinds, weights)[0]
                try:
                    status = str(one(session, rng, kind))
                except requests.RequestException as exc:
                    status = f"error:{type(exc).__name__}"
                with lock:
                    statuses[kind][status] += 1

    def sampler() -> None:
        while time.monotonic() < stop:
            samples.append({"t": round(time.monotonic() - start, 1), **tree_rss_mb(pid)})
            time.sleep(args.sample)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    threads.append(threading.Thread(target=sampler))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    load_end = samples[-1]
    elapsed = time.monotonic() - start
    time.sleep(args.sample)  # the last requests drained: what the server keeps when idle
    idle = {"t": round(time.monotonic() - start, 1), **tree_rss_mb(pid)}

    def rss_at(t: float) -> dict[str, float]:
        return next((s for s in samples if s["t"] >= t), samples[-1])

    total = sum(sum(c.values()) for c in statuses.values())
    server_errors = sum(n for c in statuses.values() for s, n in c.items() if s.startswith("5"))
    failed = sum(n for c in statuses.values() for s, n in c.items() if s.startswith("error"))
    after_minute = rss_at(60.0)
    under_load = [s for s in samples if s["t"] >= 60.0] or samples

    def peak(role: str) -> float:
        return max(s.get(role, 0.0) for s in samples)

    return {
        "requests": total,
        "requests_per_s": round(total / elapsed, 2),
        "server_errors_5xx": server_errors,
        "connection_errors": failed,
        "statuses": {kind: dict(sorted(c.items())) for kind, c in sorted(statuses.items())},
        "rss_mb": {
            "start": samples[0],
            "after_1_min": after_minute,
            "end_of_load": load_end,
            "idle_after": idle,
            "max": {role: peak(role) for role in ("serve", "web", "jobs", "total")},
            "after_1_min_range_total": [min(s["total"] for s in under_load),
                                        max(s["total"] for s in under_load)],
            "growth_after_1_min_total": round(load_end["total"] - after_minute["total"], 1),
        },
        "rss_samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--sample", type=float, default=5.0, help="RSS sampling period, s")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from imaging.bombs import png_bomb

    good, source = good_photos()
    bad = bad_files(good)
    bomb = png_bomb()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        if (DEFAULT_BUNDLE / "bundle.json").is_file():
            bundle, bundle_name = DEFAULT_BUNDLE, "default"
        else:
            from bundles import make_tiny_bundle

            bundle, bundle_name = make_tiny_bundle(Path(tmp) / "tiny").path, "tiny test bundle"
        fifo = os.path.join(tmp, "fifo")
        os.mkfifo(fifo)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")]
            ),
            "SMARTALBUM_DATA_DIR": str(Path(tmp) / "data"),
            "SMARTALBUM_DATABASE_URL": f"sqlite:///{tmp}/data/catalog.sqlite3",
            "SMARTALBUM_MODEL__BUNDLE": str(bundle),
            "SMARTALBUM_WEB__RATE_LIMIT": "",
            "SMARTALBUM_WEB__CACHE_SIZE": "0",  # every good photo goes through the model
        }
        proc, base = start_server(env, Path(tmp) / "serve.log")
        try:
            result = soak(base, proc.pid, args, good, bad, bomb, fifo)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log_tail = (Path(tmp) / "serve.log").read_text(errors="replace")[-1500:]
    print(json.dumps({
        "duration_s": args.duration,
        "clients": args.clients,
        "bundle": bundle_name,
        "photos": f"{len(good)} good from {source}, {len(bad)} bad, bomb 13000x13000 1-bit PNG",
        "mix_percent": MIX,
        "cpus": os.cpu_count(),
        **result,
        "server_log_tail": log_tail if result["server_errors_5xx"] else "",
    }, indent=2))


if __name__ == "__main__":
    main()
