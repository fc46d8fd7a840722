"""Faces: detect + embed throughput on 12 MP photos (2 processes on 2 cores), clustering time
for 10,000 faces, the measured match threshold, and (``--evidence``) whether face evidence
improves the ``people`` category.

Sections (one JSON object printed):

- ``throughput``: 12 MP JPEGs composed of street photos of the shared pool (2 people side
  by side: faces ~220 px; 6 people in two rows: faces ~110 px), scanned as the service
  does (``load_photo`` at ``detect_size``, MTCNN + 5-point landmarks, ResNet descriptors),
  one process per core (one OpenCV thread each). Reported per detect size: photos/s,
  faces/s, faces found/expected.
- ``clustering``: 10,000 synthetic 128-d descriptors (500 people x 20 pictures, spreads
  as measured on real faces): chinese whispers and the correction-keeping re-cluster plan,
  seconds and purity; and one incremental match against 10,000 faces.
- ``threshold``: distances between augmented pictures of one real face (crops, flips, scale,
  brightness) and between different people's faces, and the error rates per threshold.
- ``wild``: per class of the shared ``wild`` photos (people vs landscape, architecture,
  ``none``), the share with a face (false faces on the last three) and CPU s per photo.
- ``evidence`` (``--evidence``, slower): the default bundle's people probability vs. the same
  plus face count/area, on a held-out half of people / landscape / pets photos.

Without ../shared/data the throughput and threshold sections fall back to scikit-image's
astronaut (if installed) and say so.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
POOL = BENCH.parent / ".." / "shared" / "data" / "train_pool"
W, H = 4032, 3024


def _people_sources(n: int) -> list[np.ndarray]:
    paths = sorted((POOL / "people").glob("*.jpg"))[:n] if (POOL / "people").is_dir() else []
    if paths:
        return [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    from skimage import data  # dev extra

    return [np.ascontiguousarray(data.astronaut()[0:300, 60:400])] * n


def _compose(tiles: list[np.ndarray], rows: int) -> np.ndarray:
    """Tiles in ``rows`` rows on a 4032 x 3024 canvas, each row's tiles scaled to its height."""
    canvas = np.full((H, W, 3), 110, np.uint8)
    per_row = -(-len(tiles) // rows)
    row_h = H // rows
    for r in range(rows):
        x = 0
        for tile in tiles[r * per_row : (r + 1) * per_row]:
            w = int(tile.shape[1] * row_h / tile.shape[0])
            if x + w > W:
                break
            canvas[r * row_h : (r + 1) * row_h, x : x + w] = cv2.resize(
                tile, (w, row_h), interpolation=cv2.INTER_CUBIC
            )
            x += w
    noise = np.random.default_rng(0).normal(0, 4, canvas.shape)
    return np.clip(canvas + noise, 0, 255).astype(np.uint8)


def make_photos(out: Path, n: int) -> list[tuple[Path, int]]:
    """(path, expected faces): alternately pairs and groups of six (see module doc)."""
    from smartalbum.faces.detect import detect_faces

    out.mkdir(parents=True, exist_ok=True)
    sources = [s for s in _people_sources(60) if len(detect_faces(s)) == 1]
    made = []
    for i in range(n):
        people, rows = (2, 1) if i % 2 == 0 else (6, 2)
        tiles = [sources[(i * 7 + k) % len(sources)] for k in range(people)]
        path = out / f"faces_{i:03d}_{people}.jpg"
        if not path.exists():
            Image.fromarray(_compose(tiles, rows)).save(path, "JPEG", quality=90)
        made.append((path, people))
    return made


def _scan_one(args: tuple[str, int]) -> tuple[int, float]:
    path, detect_size = args
    from smartalbum.faces.detect import detect_faces
    from smartalbum.faces.embed import describe_faces
    from smartalbum.imaging.decode import load_photo

    t = time.perf_counter()
    cv2.setNumThreads(1)  # one core per process, as the workers run (OpenCV's dnn and resize)
    image = load_photo(path, max_side=detect_size).image
    faces = detect_faces(image)
    describe_faces(image, faces)
    return len(faces), time.perf_counter() - t


def throughput(photos: list[tuple[Path, int]], sizes: list[int], procs: int) -> dict:
    out = {}
    expected = sum(n for _, n in photos)
    # spawn, not fork: a child forked while one of OpenCV's pool threads (MTCNN's resizes and
    # nets, run here by make_photos) held a lock waits on it for ever (seen once in three).
    with ProcessPoolExecutor(procs, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_scan_one, [(str(photos[0][0]), 1024)] * procs))  # load the models
        for size in sizes:
            t = time.perf_counter()
            results = list(pool.map(_scan_one, [(str(p), size) for p, _ in photos]))
            wall = time.perf_counter() - t
            found = sum(n for n, _ in results)
            out[str(size)] = {
                "photos_per_s": round(len(photos) / wall, 2),
                "faces_per_s": round(found / wall, 2),
                "ms_per_photo_one_core": round(1000 * float(np.median([s for _, s in results])), 1),
                "faces_found": found,
                "faces_expected": expected,
            }
    return out


def _blobs(n_people: int, per: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Descriptors with real spreads: people ~0.75-0.95 apart, pictures ~0.2-0.45 apart."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_people, 128)).astype(np.float32)
    centres *= 0.6 / np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.normal(scale=0.22 / np.sqrt(128), size=(n_people * per, 128))
    return (np.repeat(centres, per, 0) + noise).astype(np.float32), np.repeat(
        np.arange(n_people), per
    )


def clustering(n_people: int = 500, per: int = 20, threshold: float = 0.5) -> dict:
    from sklearn.metrics import adjusted_rand_score

    from smartalbum.faces.cluster import chinese_whispers, distances, match, plan_recluster

    vectors, truth = _blobs(n_people, per)
    ids = list(range(len(vectors)))
    iu = np.triu_indices(200, 1)
    sample = distances(vectors[:200], vectors[:200])[iu]
    same = (truth[:200, None] == truth[None, :200])[iu]
    t = time.perf_counter()
    labels = chinese_whispers(vectors, threshold)
    cw = time.perf_counter() - t
    locked = {i: 10_000 + truth[i] for i in range(0, len(ids), per * 10)}  # some confirmed
    t = time.perf_counter()
    plan = plan_recluster(ids, vectors, locked=locked, previous={}, banned={}, threshold=threshold)
    full = time.perf_counter() - t
    persons = truth.tolist()
    t = time.perf_counter()
    for k in range(20):
        match(vectors[k] + 0.01, vectors, persons, threshold)
    one = (time.perf_counter() - t) / 20
    catalog_s = _catalog_recluster(vectors, threshold)
    return {
        "faces": len(vectors),
        "people": n_people,
        "synthetic_same_person_distance_median": round(float(np.median(sample[same])), 3),
        "synthetic_different_people_distance_median": round(float(np.median(sample[~same])), 3),
        "chinese_whispers_s": round(cw, 2),
        "clusters": int(labels.max() + 1),
        "adjusted_rand_index": round(float(adjusted_rand_score(truth, labels)), 4),
        "recluster_plan_s": round(full, 2),
        "recluster_people": plan.new_people + len(set(locked.values())),
        "incremental_match_ms": round(1000 * one, 2),
        "catalog_recluster": catalog_s,
    }


def _catalog_recluster(vectors: np.ndarray, threshold: float) -> dict:
    """``smartalbum faces recluster`` over a SQLite catalog holding these faces (2,000
    photos x 5 faces): read, cluster, write, in one transaction; run twice (the second run
    finds every face where the first put it)."""
    import tempfile

    from smartalbum.faces.embed import to_bytes
    from smartalbum.faces.people import recluster
    from smartalbum.library import db
    from smartalbum.library.schema import Photo
    from smartalbum.library.schema_faces import Face

    with tempfile.TemporaryDirectory() as tmp:
        _, factory = db.open_catalog(url=f"sqlite:///{tmp}/bench.sqlite3")
        with db.session_scope(factory) as s:
            photos = [
                Photo(sha256=f"{i:064x}", size=1, format="JPEG", width=4032, height=3024)
                for i in range(len(vectors) // 5)
            ]
            s.add_all(photos)
            s.flush()
            s.add_all(
                Face(
                    photo_id=photos[i // 5].id,
                    x=0.1,
                    y=0.1,
                    w=0.05,
                    h=0.07,
                    landmarks=[[0.1, 0.1]] * 5,
                    score=1.0,
                    embedding=to_bytes(v),
                )
                for i, v in enumerate(vectors)
            )
        out = {}
        for run in ("first", "second"):
            t = time.perf_counter()
            summary = recluster(factory, threshold=threshold)
            out[f"{run}_s"] = round(time.perf_counter() - t, 2)
            out[f"{run}_new_people"] = summary.new_people
        db.dispose_all()
    return out


def threshold(n: int = 40) -> dict:
    """Known identities from real faces: each street face augmented (the same person) vs the
    other street faces (different people)."""
    from smartalbum.faces.cluster import distances
    from smartalbum.faces.detect import detect_faces
    from smartalbum.faces.embed import describe_faces

    def variants(img: np.ndarray) -> list[np.ndarray]:
        h, w = img.shape[:2]
        f = img.astype(np.float32)
        return [
            img,
            np.ascontiguousarray(img[:, ::-1]),
            np.clip(f * 0.6, 0, 255).astype(np.uint8),
            np.clip(f * 1.3 + 20, 0, 255).astype(np.uint8),
            cv2.resize(img, (int(w * 0.6), int(h * 0.6)), interpolation=cv2.INTER_AREA),
            np.ascontiguousarray(img[h // 10 :, w // 10 :]),
        ]

    vectors, who = [], []
    for k, src in enumerate(_people_sources(n)):
        found = detect_faces(src)
        if len(found) != 1:
            continue
        f = found[0]
        r = int(f.width * 1.6)
        cx, cy = (f.left + f.right) // 2, (f.top + f.bottom) // 2
        crop = np.ascontiguousarray(src[max(0, cy - r) : cy + r, max(0, cx - r) : cx + r])
        for v in variants(crop):
            got = detect_faces(v)
            if got:
                vectors.append(describe_faces(v, got[:1])[0])
                who.append(k)
    x, who_a = np.stack(vectors), np.asarray(who)
    d = distances(x, x)
    iu = np.triu_indices(len(x), 1)
    same = (who_a[:, None] == who_a[None, :])[iu]
    s, o = d[iu][same], d[iu][~same]
    return {
        "identities": int(len(set(who))),
        "faces": len(x),
        "same_person": {
            "pairs": int(len(s)),
            "median": round(float(np.median(s)), 3),
            "p99": round(float(np.percentile(s, 99)), 3),
            "max": round(float(s.max()), 3),
        },
        "different_people": {
            "pairs": int(len(o)),
            "median": round(float(np.median(o)), 3),
            "p1": round(float(np.percentile(o, 1)), 3),
            "min": round(float(o.min()), 3),
        },
        "by_threshold": {
            str(t): {
                "same_kept": round(float((s < t).mean()), 4),
                "different_joined": round(float((o < t).mean()), 4),
            }
            for t in (0.4, 0.45, 0.5, 0.55, 0.6)
        },
    }


def wild(max_side: int = 2048) -> dict:
    """Photos with a face, per class of the shared ``wild`` photos (groups, selfies,
    portraits vs landscapes, buildings and ``none``: the last three count false faces), and
    CPU seconds per photo (detection only, one thread; CPU time, not wall time, so other
    processes on a shared machine do not inflate it)."""
    import csv

    from smartalbum.faces.detect import detect_faces
    from smartalbum.imaging.decode import load_photo

    cv2.setNumThreads(1)
    root = POOL.parent / "wild"
    rows = list(csv.DictReader((root / "MANIFEST_wild.csv").open()))
    out = {}
    for cls in ("people", "landscape", "architecture", "none"):
        found, seconds = [], []
        for row in (r for r in rows if r["class"] == cls):
            image = load_photo(root / row["file"], max_side=max_side).image
            t = time.process_time()
            found.append(len(detect_faces(image)))
            seconds.append(time.process_time() - t)
        out[cls] = {
            "photos": len(found),
            "with_a_face": round(float(np.mean([n > 0 for n in found])), 3),
            "faces": int(sum(found)),
            "median_cpu_s": round(float(np.median(seconds)), 3),
        }
    return out


def evidence(per_class: int = 150, seed: int = 0) -> dict:
    """Head alone vs head + face evidence on people / landscape / pets (held-out half)."""
    from sklearn.linear_model import LogisticRegression

    from smartalbum.faces.detect import detect_faces
    from smartalbum.imaging.decode import load_photo
    from smartalbum.model.engine import Engine
    from smartalbum.model.pipeline import classify_files

    engine = Engine.load(None, threads=1)
    rows = []
    for cls in ("people", "landscape", "pets"):
        paths = sorted((POOL / cls).glob("*.jpg"))
        order = np.random.default_rng([seed, len(cls)]).permutation(len(paths))[:per_class]
        picked = [paths[i] for i in order]
        preds = list(classify_files(picked, engine, hash_files=False))
        for path, pred in zip(picked, preds, strict=True):
            image = load_photo(path, max_side=2048).image
            faces = detect_faces(image)
            area = max((f.width * f.height for f in faces), default=0) / (
                image.shape[0] * image.shape[1]
            )
            p_people = float(pred.prediction.probabilities.get("people", 0.0))
            rows.append(
                (cls == "people", pred.prediction.label == "people", p_people, len(faces), area)
            )
    truth = np.array([r[0] for r in rows])
    head = np.array([r[1] for r in rows])
    feats = np.array(
        [[np.log(max(r[2], 1e-6) / max(1 - r[2], 1e-6)), min(r[3], 5), np.sqrt(r[4])] for r in rows]
    )
    rng = np.random.default_rng(seed)
    val = rng.random(len(rows)) < 0.5
    combo = LogisticRegression(C=1.0).fit(feats[~val], truth[~val]).predict(feats[val])
    faces_only = np.array([r[3] > 0 for r in rows])
    return {
        "photos": len(rows),
        "validation_photos": int(val.sum()),
        "head_errors": int((head[val] != truth[val]).sum()),
        "head_plus_faces_errors": int((combo != truth[val]).sum()),
        "faces_only_errors": int((faces_only[val] != truth[val]).sum()),
        "people_with_a_face": round(float(faces_only[truth].mean()), 3),
        "non_people_with_a_face": round(float(faces_only[~truth].mean()), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--sizes", default="2048,3072")
    parser.add_argument("--procs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--evidence", action="store_true")
    parser.add_argument("--sections", default="throughput,clustering,threshold,wild")
    args = parser.parse_args()
    out: dict = {"shared_data": (POOL / "people").is_dir(), "procs": args.procs}
    sections = args.sections.split(",")
    if "throughput" in sections:
        photos = make_photos(BENCH / "out" / "faces-12mp", args.photos)
        sizes = [int(s) for s in args.sizes.split(",")]
        out["throughput"] = throughput(photos, sizes, args.procs)
    if "clustering" in sections:
        out["clustering"] = clustering()
    if "threshold" in sections:
        out["threshold"] = threshold()
    if "wild" in sections and (POOL.parent / "wild").is_dir():
        out["wild"] = wild()
    if args.evidence:
        out["evidence"] = evidence()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
