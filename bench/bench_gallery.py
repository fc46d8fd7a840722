"""Gallery API benchmark: ``GET /api/v1/photos`` page latency with 50,000 photos. Prints JSON.

A temporary catalog is filled directly through the schema (no image files: this measures
the database and the API, not decoding) with a library shaped like a real one: capture
times over ten years with bursts sharing a second and 2 % undated photos, one present
copy each (1 % with a second, missing copy), a prediction of the app's default head for
every photo (six labels for the shipped bundle, 15 % uncertain, and a stale prediction of
an older head version for 10 %), 1 % corrected, 30 % with a place, cameras, 10 % blurry
and 5 % badly exposed.

Measured with Flask's test client (the whole app: parameter parsing, keyset query, loading
the records, JSON) and, for a subset, through a real waitress server over HTTP:

* ``first_page``: the first page, repeated;
* ``walk_all``: every page of the whole listing, following ``next_cursor`` to the end
  (the deepest pages included: keyset pagination must not slow down with depth);
* ``walk_label``: every page of one label (the label that counts, correction over prediction);
* ``walk_review``: every page of the review list (uncertain, blurry or badly exposed);
* ``first_page_filtered``: first pages of year+month, country, camera and text filters;
* ``stats``: the facet counts, computed once (cold) and then served from the cache;
* ``first_content`` (issue 15): what the gallery page waits for before its first photos
  show — the page's HTML, ``/api/v1/model`` and the first page of ``/api/v1/photos`` in
  sequence — right after start (cold) and repeated, and the timeline
  (``/api/v1/photos/months``, asked beside the first page) cold and cached.

Targets (the issues): page p99 under 200 ms; gallery first content under 500 ms. Usage:
``python bench/bench_gallery.py [--photos 50000] [--limit 60] [--postgres] [--first-content-only]``
(about a minute on 2 cores; --postgres runs on a fresh database on 127.0.0.1:5432 instead of
SQLite; --first-content-only measures issue 15's target alone).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_BUNDLE = REPO_ROOT / "src" / "smartalbum" / "model" / "default"
TINY_BUNDLE = BENCH_DIR / "out" / "tiny-bundle"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_P99_MS = 200.0
TARGET_FIRST_CONTENT_MS = 500.0

PLACES = [
    ("IT", "Tuscany", "Florence", 43.77, 11.25),
    ("IT", "Tuscany", "Arezzo", 43.46, 11.88),
    ("FR", "Île-de-France", "Paris", 48.85, 2.35),
    ("ES", "Catalonia", "Barcelona", 41.39, 2.17),
    ("DE", "Berlin", "Berlin", 52.52, 13.40),
    ("GB", "England", "London", 51.51, -0.13),
    ("US", "California", "San Francisco", 37.77, -122.42),
    ("JP", "Tokyo", "Tokyo", 35.68, 139.69),
]
CAMERAS = [
    ("Apple", "iPhone 13"),
    ("Apple", "iPhone 8"),
    ("samsung", "SM-G991B"),
    ("Google", "Pixel 7"),
    ("NIKON", "COOLPIX P6000"),
    ("Canon", "Canon EOS 80D"),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(ms: list[float], **extra: Any) -> dict[str, Any]:
    return {
        "requests": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        **extra,
    }


# --------------------------------------------------------------------------- catalog


@contextmanager
def catalog_url(postgres: bool, directory: Path) -> Iterator[str]:
    if not postgres:
        yield f"sqlite:///{directory / 'catalog.sqlite3'}"
        return
    import psycopg

    name = f"smartalbum_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        from smartalbum.library import db

        db.dispose_all()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fill_catalog(url: str, n: int, head: str, labels: list[str], seed: int = 0) -> dict[str, Any]:
    """Insert ``n`` photos with copies, predictions and a few corrections (Core inserts)."""
    from sqlalchemy import insert

    from smartalbum.library import db
    from smartalbum.library.schema import Correction, File, Photo, Prediction, utcnow

    rng = random.Random(seed)
    _, factory = db.open_catalog(url=url)
    start = datetime(2015, 1, 1)
    span = 10 * 365 * 24 * 3600
    now = utcnow()
    photos, files, predictions, corrections = [], [], [], []
    when = None
    for i in range(1, n + 1):
        if rng.random() < 0.02:
            when = None
        elif when is not None and rng.random() < 0.15:
            pass  # a burst: the same second as the previous photo
        else:
            when = start + timedelta(seconds=rng.randrange(span))
        place = rng.choice(PLACES) if rng.random() < 0.3 else None
        make, model = rng.choice(CAMERAS) if rng.random() < 0.8 else (None, None)
        verdict = rng.choice(["under", "over"]) if rng.random() < 0.05 else "ok"
        photos.append(
            {
                "id": i,
                "sha256": hashlib.sha256(f"{seed}-{i}".encode()).hexdigest(),
                "size": rng.randrange(1_000_000, 6_000_000),
                "format": "JPEG",
                "width": 4032,
                "height": 3024,
                "taken_at": when,
                "taken_at_source": "exif" if when else None,
                "tz_offset_min": 60 if when else None,
                "camera_make": make,
                "camera_model": model,
                "latitude": place[3] if place else None,
                "longitude": place[4] if place else None,
                "altitude": None,
                "city": place[2] if place else None,
                "region": place[1] if place else None,
                "country": place[0] if place else None,
                "blur": rng.uniform(10, 99) if rng.random() < 0.1 else rng.uniform(100, 3000),
                "exposure_mean": 0.5,
                "exposure_dark": 0.0,
                "exposure_bright": 0.0,
                "exposure_verdict": verdict,
                "phash": rng.randrange(-(2**63), 2**63),
                "dhash": rng.randrange(-(2**63), 2**63),
                "created_at": now,
                "updated_at": now,
            }
        )
        files.append(
            {
                "photo_id": i,
                "path": f"/photos/{i // 1000:03d}/IMG_{i:06d}.jpg",
                "size": photos[-1]["size"],
                "mtime_ns": 0,
                "status": "present",
                "first_seen": now,
                "last_seen": now,
            }
        )
        if rng.random() < 0.01:
            files.append({**files[-1], "path": f"/old/IMG_{i:06d}.jpg", "status": "missing"})
        label = rng.choice(labels)
        confidence = rng.uniform(0.3, 0.6) if rng.random() < 0.15 else rng.uniform(0.7, 0.99)
        probabilities = {name: (confidence if name == label else 0.01) for name in labels}
        base = {
            "photo_id": i,
            "head": head,
            "backbone_version": "bench",
            "probabilities": probabilities,
            "created_at": now,
        }
        if rng.random() < 0.1:  # a stale prediction of an older head version, stored first
            predictions.append(
                {
                    **base,
                    "head_version": "old",
                    "label": rng.choice(labels),
                    "confidence": 0.9,
                    "uncertain": False,
                }
            )
        predictions.append(
            {
                **base,
                "head_version": "current",
                "label": label,
                "confidence": confidence,
                "uncertain": confidence < 0.6,
            }
        )
        if rng.random() < 0.01:
            corrections.append(
                {
                    "photo_id": i,
                    "label": rng.choice(labels),
                    "head": head,
                    "source": "web",
                    "created_at": now,
                }
            )
    t0 = time.perf_counter()
    with db.session_scope(factory) as session:
        for table, rows in (
            (Photo, photos),
            (File, files),
            (Prediction, predictions),
            (Correction, corrections),
        ):
            for k in range(0, len(rows), 5000):
                session.execute(insert(table.__table__), rows[k : k + 5000])
    if url.startswith("postgresql"):
        from sqlalchemy import text

        engine = db.get_engine(url=url)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return {
        "photos": len(photos),
        "files": len(files),
        "predictions": len(predictions),
        "corrections": len(corrections),
        "insert_s": round(time.perf_counter() - t0, 2),
    }


# --------------------------------------------------------------------------- measuring


Getter = Callable[[str], dict[str, Any]]


def timed(get: Getter, url: str) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    body = get(url)
    return (time.perf_counter() - t0) * 1000, body


def walk(get: Getter, query: str, max_pages: int | None = None) -> dict[str, Any]:
    """Follow next_cursor from the first page to the end; every id must come once."""
    from urllib.parse import quote

    ms, seen, pages, cursor = [], set(), 0, None
    while True:
        url = f"/api/v1/photos?{query}" + (f"&cursor={quote(cursor)}" if cursor else "")
        elapsed, body = timed(get, url)
        ms.append(elapsed)
        ids = [item["id"] for item in body["items"]]
        if seen.intersection(ids):
            raise AssertionError("a photo came twice")
        seen.update(ids)
        pages += 1
        cursor = body["next_cursor"]
        if not cursor or (max_pages and pages >= max_pages):
            break
    deep = ms[len(ms) * 9 // 10 :] or ms
    return summary(
        ms, photos=len(seen), pages=pages, last_10pct_p50_ms=round(statistics.median(deep), 2)
    )


def scenarios(get: Getter, limit: int, label: str, *, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    base = f"limit={limit}"
    for _ in range(3):  # warm-up: connections, statement caches, first imports
        get(f"/api/v1/photos?{base}")
    out["first_page"] = summary([timed(get, f"/api/v1/photos?{base}")[0] for _ in range(100)])
    out["walk_all"] = walk(get, base, None if full else 60)
    out["walk_label"] = walk(get, f"{base}&label={label}", None if full else 60)
    out["walk_review"] = walk(get, f"{base}&review=true", None if full else 60)
    filtered = [
        "year=2020&month=6",
        "country=IT",
        "place=Florence",
        "camera=COOLPIX%20P6000",
        "q=florence",
        "uncertain=true",
        "blurry=true",
    ]
    ms = []
    for query in filtered:
        for _ in range(10):
            ms.append(timed(get, f"/api/v1/photos?{base}&{query}")[0])
    out["first_page_filtered"] = summary(ms, filters=filtered)
    return out


def first_content(fetch: Callable[[str], Any], limit: int, repeat: int = 30) -> dict[str, Any]:
    """The gallery's first content: HTML, model, first page of photos, in sequence (the
    page's script asks the model first, then the photos); then the timeline beside it."""

    def once() -> float:
        t0 = time.perf_counter()
        fetch("/gallery")
        fetch("/api/v1/model")
        fetch(f"/api/v1/photos?limit={limit}")
        return (time.perf_counter() - t0) * 1000

    cold = once()
    t0 = time.perf_counter()
    fetch("/api/v1/photos/months")
    months_cold = (time.perf_counter() - t0) * 1000
    warm = [once() for _ in range(repeat)]
    months_warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fetch("/api/v1/photos/months")
        months_warm.append((time.perf_counter() - t0) * 1000)
    label = fetch("/api/v1/model")["heads"][0]["labels"][0]
    t0 = time.perf_counter()
    fetch(f"/api/v1/photos/months?label={label}")
    months_label_cold = (time.perf_counter() - t0) * 1000
    return {
        "cold_ms": round(cold, 1),
        **summary(warm),
        "timeline_cold_ms": round(months_cold, 1),
        "timeline_label_cold_ms": round(months_label_cold, 1),
        "timeline_cached_p50_ms": round(statistics.median(months_warm), 2),
        "target_ms": TARGET_FIRST_CONTENT_MS,
        "ok": max(cold, percentile(warm, 0.99)) < TARGET_FIRST_CONTENT_MS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=50_000)
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--no-waitress", action="store_true", help="test client only")
    parser.add_argument(
        "--first-content-only", action="store_true", help="only the gallery's first content"
    )
    args = parser.parse_args()

    from smartalbum.config import ModelSettings, Settings, WebSettings
    from smartalbum.model.bundle import Bundle
    from smartalbum.web import create_app

    if (DEFAULT_BUNDLE / "bundle.json").is_file():
        bundle_dir = DEFAULT_BUNDLE
    else:
        sys.path.insert(0, str(REPO_ROOT / "tests"))
        from bundles import make_tiny_bundle

        if not (TINY_BUNDLE / "bundle.json").is_file():
            make_tiny_bundle(TINY_BUNDLE)
        bundle_dir = TINY_BUNDLE
    bundle = Bundle.load(bundle_dir)
    head = bundle.default_head
    labels = list(bundle.heads[head].labels)

    with tempfile.TemporaryDirectory() as tmp, catalog_url(args.postgres, Path(tmp)) as url:
        filled = fill_catalog(url, args.photos, head, labels)
        settings = Settings(
            data_dir=Path(tmp) / "data",
            database_url=url,
            model=ModelSettings(bundle=bundle_dir, threads=1),
            web=WebSettings(rate_limit=""),
        )
        app = create_app(settings)
        client = app.test_client()

        def get(path: str) -> dict[str, Any]:
            resp = client.get(path)
            if resp.status_code != 200:
                raise AssertionError(f"{path}: {resp.status_code} {resp.get_data(as_text=True)}")
            return resp.get_json()

        def fetch(path: str) -> Any:
            resp = client.get(path)
            if resp.status_code != 200:
                raise AssertionError(f"{path}: {resp.status_code}")
            return resp.get_json() if resp.is_json else resp.get_data()

        first = first_content(fetch, args.limit)
        if args.first_content_only:
            out = {"backend": "postgresql" if args.postgres else "sqlite", "catalog": filled}
            print(json.dumps({**out, "first_content": first}, indent=2))
            return 0

        label = labels[1 % len(labels)]
        result: dict[str, Any] = {
            "backend": "postgresql" if args.postgres else "sqlite",
            "catalog": filled,
            "bundle": bundle.name,
            "head": head,
            "limit": args.limit,
            "label": label,
            "target_p99_ms": TARGET_P99_MS,
        }
        result["first_content"] = first
        cold, _ = timed(get, "/api/v1/stats")
        warm = [timed(get, "/api/v1/stats")[0] for _ in range(20)]
        result["test_client"] = scenarios(get, args.limit, label, full=True)
        result["stats"] = {"cold_ms": round(cold, 1), **summary(warm)}

        if not args.no_waitress:
            result["waitress"] = over_waitress(app, settings, args.limit, label)

        pages = [
            v
            for part in ("test_client", "waitress")
            for k, v in result.get(part, {}).items()
            if isinstance(v, dict) and "p99_ms" in v
        ]
        result["worst_page_p99_ms"] = max(v["p99_ms"] for v in pages)
        result["ok"] = result["worst_page_p99_ms"] < TARGET_P99_MS and first["ok"]
    print(json.dumps(result, indent=2))
    return 0


def over_waitress(app: Any, settings: Any, limit: int, label: str) -> dict[str, Any]:
    """The same scenarios (shorter walks) over HTTP, one keep-alive client."""
    import requests

    from smartalbum.web.server import make_server

    server = make_server(app, settings, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.effective_port}"
    session = requests.Session()

    def get(path: str) -> dict[str, Any]:
        resp = session.get(base_url + path, timeout=30)
        resp.raise_for_status()
        return resp.json()

    try:
        return scenarios(get, limit, label, full=False)
    finally:
        server.close()
        server.task_dispatcher.shutdown()
        thread.join(timeout=5)


if __name__ == "__main__":
    sys.exit(main())
