"""Search latency over a 50,000-photo catalog, and tagging throughput.

A synthetic catalog (SQLite in a temp dir) holds 50,000 photos with a present file, a date
over ten years, one of 200 places, one of 12 cameras, a prediction and 4-6 tags drawn from
the shipped vocabulary. Measured:

* ``index_build_s``: reading the catalog into the search index (once per catalog change);
* per query kind, p50/p95 latency of ``SearchService.search`` on the built index, which is
  what a user waits for (target: under 100 ms);
* ``tagging``: the tagger on real-shaped embeddings (photos/s, numpy, one process), and
  ``tag_catalog`` end to end on 5,000 stored embeddings (SQLite, one transaction per 500).

Prints one JSON object. ``BENCH_SEARCH_PHOTOS`` overrides the catalog size.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from smartalbum.library import db
from smartalbum.library.catalog import vector_to_bytes
from smartalbum.library.schema import Embedding, File, Photo, Prediction
from smartalbum.library.schema_tags import PhotoTag
from smartalbum.model.bundle import Bundle
from smartalbum.tags.search import SearchService
from smartalbum.tags.store import tag_catalog
from smartalbum.tags.tagger import Tagger, load_vocabulary

N = int(os.environ.get("BENCH_SEARCH_PHOTOS", "50000"))
QUERIES = {
    "exact tag": ["beach", "dog", "church", "pizza", "receipt"],
    "near word": ["puppy", "seaside", "kitten", "cathedral", "ocean"],
    "place + date": ["Florence 2023", "Paris May 2024", "Rome last summer"],
    "phrase": ["my dog at the beach", "birthday cake", "mountain lake"],
    "date only": ["May 2024", "last year", "2019"],
}
REPEATS = 5


def seed_catalog(factory, n: int) -> None:
    rng = random.Random(0)
    words = load_vocabulary().words
    weights = [1.0 / (1 + i % 15) for i in range(len(words))]
    cities = [f"City{i}" for i in range(197)] + ["Florence", "Paris", "Rome"]
    cameras = ["Canon", "NIKON", "Apple", "SONY", "FUJIFILM", "Google"] * 2
    labels = ["landscape", "architecture", "people", "pets", "food", "documents"]
    start = datetime(2016, 1, 1)
    with db.session_scope(factory) as s:
        photos, files, preds, tags = [], [], [], []
        for i in range(1, n + 1):
            photos.append(
                {
                    "id": i, "sha256": f"{i:064x}", "size": 1, "format": "JPEG", "width": 4000,
                    "height": 3000, "taken_at": start + timedelta(minutes=rng.randrange(5_256_000)),
                    "city": rng.choice(cities), "country": "IT", "camera_make": rng.choice(cameras),
                    "created_at": start, "updated_at": start,
                }
            )  # fmt: skip
            files.append({"photo_id": i, "path": f"/photos/{i}.jpg", "size": 1, "mtime_ns": 1,
                          "status": "present", "first_seen": start, "last_seen": start})  # fmt: skip
            label = rng.choice(labels)
            preds.append({"photo_id": i, "head": "default", "head_version": "h",
                          "backbone_version": "b", "label": label, "confidence": 0.9,
                          "uncertain": False, "probabilities": {label: 0.9}, "created_at": start})  # fmt: skip
            for tag in set(rng.choices(words, weights, k=rng.randint(4, 6))):
                tags.append({"photo_id": i, "tag": tag, "confidence": rng.uniform(0.2, 1.0),
                             "source": "auto", "vocabulary_version": "v", "created_at": start})  # fmt: skip
        for model, rows in ((Photo, photos), (File, files), (Prediction, preds), (PhotoTag, tags)):
            s.execute(model.__table__.insert(), rows)


def time_queries(service: SearchService) -> dict[str, dict[str, float]]:
    out = {}
    for kind, queries in QUERIES.items():
        times, totals = [], []
        for q in queries:
            for _ in range(REPEATS):
                t0 = time.perf_counter()
                result = service.search(q)
                times.append((time.perf_counter() - t0) * 1000)
            totals.append(result.total)
        times.sort()
        out[kind] = {
            "p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
            "max_ms": round(times[-1], 2),
            "matches_per_query": round(statistics.mean(totals)),
        }
    return out


def bench_tagging(tmp: Path) -> dict[str, float]:
    bundle = Bundle.load()
    fc = bundle.concept_fc
    assert fc is not None
    tagger = Tagger(fc)
    rng = np.random.default_rng(0)
    # EfficientNet-Lite0 embeddings are post-ReLU averages: non-negative, sparse-ish.
    emb = np.maximum(rng.normal(0.0, 1.0, (20_000, fc[0].shape[0])), 0).astype(np.float32)
    t0 = time.perf_counter()
    tagger.tag(emb)
    mem_rate = len(emb) / (time.perf_counter() - t0)

    n = 5000
    _, factory = db.open_catalog(url=f"sqlite:///{tmp / 'tagging.sqlite3'}")
    start = datetime(2020, 1, 1)
    with db.session_scope(factory) as s:
        s.execute(Photo.__table__.insert(), [
            {"id": i, "sha256": f"{i:064x}", "size": 1, "format": "JPEG", "width": 1,
             "height": 1, "created_at": start, "updated_at": start} for i in range(1, n + 1)
        ])  # fmt: skip
        s.execute(Embedding.__table__.insert(), [
            {"photo_id": i, "backbone_version": "b", "dim": emb.shape[1],
             "vector": vector_to_bytes(emb[i - 1]), "created_at": start} for i in range(1, n + 1)
        ])  # fmt: skip
    t0 = time.perf_counter()
    done = tag_catalog(factory, tagger, "b")
    catalog_rate = done / (time.perf_counter() - t0)
    return {
        "tagger_photos_per_s": round(mem_rate),
        "tag_catalog_photos_per_s": round(catalog_rate),
        "tag_catalog_photos": done,
    }


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        _, factory = db.open_catalog(url=f"sqlite:///{tmp / 'catalog.sqlite3'}")
        t0 = time.perf_counter()
        seed_catalog(factory, N)
        seed_s = time.perf_counter() - t0
        service = SearchService(factory, cache_dir=tmp / "cache", head="default")
        t0 = time.perf_counter()
        service.searcher()
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        service.search("puppy")  # first near-word query: loads nothing more (model loaded)
        first_ms = (time.perf_counter() - t0) * 1000
        result = {
            "photos": N,
            "semantic": service.searcher().semantic,
            "seed_s": round(seed_s, 1),
            "index_build_s": round(build_s, 2),
            "first_query_ms": round(first_ms, 1),
            "queries": time_queries(service),
            "tagging": bench_tagging(tmp),
            "note": "2-core machine shared with other work: figures are upper bounds",
        }
        db.dispose_all()
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
