"""Categories benchmark: teach a category and re-sort 50,000 photos; accuracy vs examples.

Prints JSON. Two parts:

- ``resort``: a SQLite catalog of 50,000 photos with 1280-d embeddings (the default
  backbone's size; built from the train pool's real embeddings plus small noise, or
  random clusters without ../shared/data). Timed: ``Teacher.create`` with 10 examples
  (fit + re-sort + writing the members), cold (embedding matrix read from 50,000 catalog
  rows), warm from the ``.npy`` matrix cache (a new process), and warm in memory; and a
  re-sort alone. numpy/BLAS limited to 2 threads (the 2-core target). No backbone run:
  ``onnxruntime.InferenceSession`` is replaced by a function that raises.
- ``examples``: accuracy of a category taught with 5, 10, 20 and 50 examples for each class
  the seed's default head (seed3: landscape, people, architecture) never saw: food, pets,
  documents. The catalog is the whole train pool (2,352 photos, embedded once with the
  shipped int8 backbone and cached under bench/out/); examples are drawn at random, the
  rest of the class is held back; 5 draws per point. Precision/recall/F1 on the held-back
  photos of the class against every photo of the other classes. The plot goes to
  docs/img/category_examples.png.

Usage: ``python bench/bench_categories.py [--photos 50000] [--draws 5] [--no-plot]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

BENCH = Path(__file__).resolve().parent
REPO_ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO_ROOT / "tests"))

from common import TRAIN_POOL  # noqa: E402

OUT = BENCH / "out"
POOL_CACHE = OUT / "train_pool_embeddings.npz"
HELD_OUT_CLASSES = ("food", "pets", "documents")
BACKBONE = "bench0000000001"


def pool_embeddings() -> tuple[np.ndarray, np.ndarray] | None:
    """(embeddings N x 1280, class names) of the train pool, computed once and cached."""
    if POOL_CACHE.is_file():
        with np.load(POOL_CACHE) as npz:
            return npz["emb"].astype(np.float32), npz["labels"]
    if not TRAIN_POOL.is_dir():
        return None
    from smartalbum.imaging.decode import load_photo
    from smartalbum.model.engine import Engine

    engine = Engine.load(None, threads=2, batch_size=16)
    files = sorted(p for d in sorted(TRAIN_POOL.iterdir()) if d.is_dir() for p in d.iterdir())
    chunks = []
    for i in range(0, len(files), 32):
        images = [load_photo(f, max_side=320, digest=False).image for f in files[i : i + 32]]
        chunks.append(engine.embed(images))
    emb = np.concatenate(chunks)
    labels = np.array([f.parent.name for f in files])
    OUT.mkdir(exist_ok=True)
    np.savez_compressed(POOL_CACHE, emb=emb.astype(np.float16), labels=labels)
    return emb, labels


def catalog_vectors(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """n realistic 1280-d embeddings and their class names."""
    rng = np.random.default_rng(seed)
    pool = pool_embeddings()
    if pool is not None:
        emb, labels = pool
        idx = rng.integers(0, len(emb), n)
        noise = rng.normal(0, 0.05, size=(n, emb.shape[1])).astype(np.float32)
        return np.maximum(emb[idx] + noise * emb[idx].std(), 0), labels[idx], "train_pool"
    centres = rng.normal(size=(6, 1280)).astype(np.float32)
    cls = rng.integers(0, 6, n)
    vecs = centres[cls] + 0.8 * rng.normal(size=(n, 1280)).astype(np.float32)
    return vecs, np.array([f"c{c}" for c in cls]), "synthetic"


def build_catalog(path: Path, n: int) -> tuple[float, str]:
    from categories.conftest import fill_catalog
    from smartalbum.library import db

    vecs, labels, source = catalog_vectors(n)
    _, factory = db.open_catalog(url=f"sqlite:///{path}")
    start = time.perf_counter()
    fill_catalog(factory, vecs, backbone=BACKBONE)
    np.save(path.with_suffix(".labels.npy"), labels)
    db.dispose_all()
    return time.perf_counter() - start, source


def time_create(path: Path, cache: Path, name: str) -> dict[str, float]:
    """One create (10 examples of the first labelled class) + a re-sort, in this process."""
    import onnxruntime

    from smartalbum.categories.teach import Teacher
    from smartalbum.library import db

    def forbidden(*_a, **_k):
        raise AssertionError("no backbone run while teaching")

    onnxruntime.InferenceSession = forbidden
    labels = np.load(path.with_suffix(".labels.npy"))
    target = "food" if "food" in set(labels.tolist()) else labels[0]
    _, factory = db.open_catalog(url=f"sqlite:///{path}")
    teacher = Teacher(factory, BACKBONE, cache_root=cache)
    with factory() as s:
        from sqlalchemy import select

        from smartalbum.library.schema import Embedding

        ids = [
            pid
            for (pid,) in s.execute(select(Embedding.photo_id).order_by(Embedding.id).limit(2000))
        ]
    examples = [pid for pid, lab in zip(ids, labels[: len(ids)], strict=False) if lab == target]
    start = time.perf_counter()
    result = teacher.create(name, examples[:10])
    create_s = time.perf_counter() - start
    start = time.perf_counter()
    with db.session_scope(factory) as s:
        from smartalbum.categories import store

        again = teacher.resort(s, store.get_category(s, name))
    resort_s = time.perf_counter() - start
    db.dispose_all()
    return {
        "create_s": round(create_s, 3),
        "create_resort_part_s": result["resort"]["seconds"],
        "resort_again_s": round(resort_s, 3),
        "members": again.members,
        "scored": again.scored,
    }


def resort_bench(n: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalog.sqlite3"
        cache = Path(tmp) / "cache"
        build_s, source = build_catalog(path, n)
        out: dict[str, object] = {
            "photos": n,
            "embedding_dim": 1280,
            "source": source,
            "catalog_build_s": round(build_s, 2),
        }
        # cold: a fresh process, no matrix cache; then warm from the .npy cache (fresh process)
        for label, name in (("cold", "first"), ("warm_npy_cache", "second")):
            proc = subprocess.run(
                [sys.executable, __file__, "--child", str(path), str(cache), name],
                capture_output=True,
                text=True,
                check=True,
            )
            out[label] = json.loads(proc.stdout)
        time_create(path, cache, "third")  # loads the matrix into this process
        out["warm_in_memory"] = time_create(path, cache, "fourth")
        return out


def examples_bench(draws: int) -> dict[str, object]:
    from smartalbum.categories.data import UserLabels, training_data
    from smartalbum.categories.fit import binary_metrics, fit_category_head, scores
    from smartalbum.categories.matrix import EmbeddingMatrix

    pool = pool_embeddings()
    if pool is None:
        return {"skipped": f"no train pool at {TRAIN_POOL}"}
    emb, labels = pool
    matrix = EmbeddingMatrix("pool", np.arange(len(emb)), emb, len(emb))
    out: dict[str, object] = {}
    for cls in HELD_OUT_CLASSES:
        members = np.flatnonzero(labels == cls)
        rows = {}
        for n in (5, 10, 20, 50):
            metrics, fit_s = [], []
            for draw in range(draws):
                rng = np.random.default_rng([draw, n])
                ex = rng.choice(members, n, replace=False)
                chosen = UserLabels(ex, emb[ex], np.ones(len(ex), np.int64))
                start = time.perf_counter()
                data = training_data(matrix, chosen, seed=draw)  # what Teacher.fit does
                head = fit_category_head(cls, data, seed=draw)
                fit_s.append(time.perf_counter() - start)
                test = np.setdiff1d(np.arange(len(emb)), ex)
                p = scores(head, emb[test])
                metrics.append(binary_metrics(p, (labels[test] == cls).astype(int), head.threshold))
            rows[str(n)] = {
                k: round(float(np.mean([m[k] for m in metrics])), 4)
                for k in ("precision", "recall", "f1", "balanced_accuracy")
            } | {
                "f1_std": round(float(np.std([m["f1"] for m in metrics])), 4),
                "fit_s": round(float(np.mean(fit_s)), 3),
            }
        out[cls] = {"photos": int(len(members)), "by_examples": rows}
    return out


def plot(examples: dict[str, object], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.4), dpi=100)
    for cls, data in examples.items():
        if not isinstance(data, dict) or "by_examples" not in data:
            continue
        ns = [int(k) for k in data["by_examples"]]
        f1 = [v["f1"] for v in data["by_examples"].values()]
        err = [v["f1_std"] for v in data["by_examples"].values()]
        ax.errorbar(ns, f1, yerr=err, marker="o", capsize=3, label=cls)
    ax.set_xscale("log")
    ax.set_xticks([], minor=True)
    ax.set_xticks([5, 10, 20, 50], labels=["5", "10", "20", "50"])
    ax.set_xlabel("examples given")
    ax.set_ylabel("F1 on held-back photos")
    ax.set_title("A new category from a few examples (train pool)")
    ax.set_ylim(0.5, 1.0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=50_000)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("CATALOG", "CACHE", "NAME"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(time_create(Path(args.child[0]), Path(args.child[1]), args.child[2])))
        return
    result: dict[str, object] = {
        "threads": os.environ["OMP_NUM_THREADS"],
        "resort": resort_bench(args.photos),
        "examples": examples_bench(args.draws),
    }
    if not args.no_plot and "skipped" not in result["examples"]:
        plot(result["examples"], REPO_ROOT / "docs" / "img" / "category_examples.png")
        result["plot"] = "docs/img/category_examples.png"
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
