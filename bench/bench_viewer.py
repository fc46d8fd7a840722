"""Viewer benchmark: a 12 MP photo's preview and original over the API. Prints JSON.

The photos are ``bench/common.py``'s 12 MP JPEGs (every fifth stored sideways with EXIF
orientation 6), indexed into a temporary SQLite catalog with the default bundle. Measured with
Flask's test client (the whole app: catalog query, file checks, decode or disk, response):

* ``preview_cold_ms``: the first ``/preview?size=1600`` (and ``2560``) of each photo: decode
  the original (JPEG DCT scaling), turn it upright, encode and store the JPEG;
* ``preview_warm_ms``: the same again, served from the disk cache;
* ``preview_304_ms``: with ``If-None-Match`` (no disk access);
* ``original_ms`` / ``original_mb_s``: the whole original file, streamed;
* ``range_ms``: a 64 KB range of it.

No target in the issue; the figures say what a viewer's next photo costs on first and later
views. Usage: ``python bench/bench_viewer.py [--photos 5]`` (under a minute on 2 cores; the
first run also makes the photos, cached in bench/out/photos-12mp).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from common import generate_photos  # noqa: E402


def _ms(samples: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(samples) * 1000, 1),
        "max": round(max(samples) * 1000, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=5)
    args = parser.parse_args(argv)

    from smartalbum.config import ModelSettings, Settings
    from smartalbum.features import load_features
    from smartalbum.library import db
    from smartalbum.library.indexer import Indexer
    from smartalbum.library.schema import File
    from smartalbum.model.engine import Engine
    from smartalbum.web import create_app

    load_features()
    photos = generate_photos(BENCH_DIR / "out" / "photos-12mp", n=args.photos)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for path in photos:
            (folder / path.name).symlink_to(path)
        url = f"sqlite:///{Path(tmp) / 'catalog.sqlite3'}"
        settings = Settings(data_dir=Path(tmp) / "data", database_url=url, model=ModelSettings())
        _, factory = db.open_catalog(settings, url=url)
        Indexer(factory, Engine.from_settings(settings), workers=1).run([folder])
        with factory() as s:
            ids = [i for (i,) in s.query(File.photo_id).order_by(File.id)]
        client = create_app(settings).test_client()

        def timed(url: str, **headers: str) -> tuple[float, int, int]:
            start = time.perf_counter()
            resp = client.get(url, headers=headers)
            size = len(resp.get_data())
            resp.close()
            return time.perf_counter() - start, resp.status_code, size

        out: dict[str, object] = {"photos": len(ids), "megapixels": 12}
        sizes: dict[int, list[int]] = {}
        for side in (1600, 2560):
            cold, warm, not_modified = [], [], []
            for photo_id in ids:
                url = f"/api/v1/photos/{photo_id}/preview?size={side}"
                took, status, size = timed(url)
                assert status == 200, (url, status)
                cold.append(took)
                sizes.setdefault(side, []).append(size)
                warm.append(timed(url)[0])
                etag = client.get(url).headers["ETag"]
                not_modified.append(timed(url, **{"If-None-Match": etag})[0])
            out[f"preview_{side}"] = {
                "cold_ms": _ms(cold),
                "warm_ms": _ms(warm),
                "304_ms": _ms(not_modified),
                "kb_median": round(statistics.median(sizes[side]) / 1024),
            }
        whole, ranges, megabytes = [], [], []
        for photo_id in ids:
            took, status, size = timed(f"/api/v1/photos/{photo_id}/original")
            assert status == 200
            whole.append(took)
            megabytes.append(size / 1e6)
            ranges.append(timed(f"/api/v1/photos/{photo_id}/original", Range="bytes=0-65535")[0])
        out["original"] = {
            "ms": _ms(whole),
            "mb_median": round(statistics.median(megabytes), 2),
            "mb_s": round(sum(megabytes) / sum(whole), 1),
            "range_64k_ms": _ms(ranges),
        }
        db.dispose_all()
    print(json.dumps({"viewer": out}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
