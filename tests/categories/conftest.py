"""Fixtures for the categories tests: catalogs of synthetic embeddings, built fast.

A catalog here holds photos whose embeddings are drawn around a few cluster centres (a
"class" is a cluster), written straight into the catalog with bulk inserts: teaching,
re-sorting and retraining only ever read stored embeddings, so no photo has to be decoded
for most tests. Tests that go through real files use the tiny ONNX bundle of
tests/bundles.py (generated photos) or the default bundle on ../shared/data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from library.catalogs import temporary_catalog
from smartalbum.categories import matrix as matrix_module
from smartalbum.categories.teach import Teacher
from smartalbum.library import db
from smartalbum.library.catalog import vector_to_bytes
from smartalbum.library.schema import Embedding, File, Photo, utcnow

BACKBONE = "testbackbone0001"


@dataclass
class SyntheticCatalog:
    factory: object
    url: str
    photo_ids: np.ndarray
    classes: np.ndarray  # class index per photo
    vectors: np.ndarray
    teacher: Teacher

    def of(self, cls: int) -> np.ndarray:
        return self.photo_ids[self.classes == cls]


def cluster_embeddings(
    n_per_class: list[int],
    dim: int = 32,
    spread: float = 0.6,
    seed: int = 0,
    centres: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if centres is None:
        centres = rng.normal(size=(len(n_per_class), dim))
    xs, ys = [], []
    for k, n in enumerate(n_per_class):
        xs.append(centres[k] + spread * rng.normal(size=(n, dim)))
        ys.append(np.full(n, k))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


def fill_catalog(
    factory,
    vectors: np.ndarray,
    *,
    backbone: str = BACKBONE,
    start: int = 0,
    with_files: Path | None = None,
) -> np.ndarray:
    """Insert one photo (+ embedding, + a File row when ``with_files``) per vector."""
    now = utcnow()
    n = len(vectors)
    with db.session_scope(factory) as s:
        photos = [
            {
                "sha256": hashlib.sha256(f"p{start + i}".encode()).hexdigest(),
                "size": 1000,
                "format": "JPEG",
                "width": 64,
                "height": 48,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(n)
        ]
        for c in range(0, n, 5000):
            s.execute(Photo.__table__.insert(), photos[c : c + 5000])
        shas = [p["sha256"] for p in photos]
        ids = {}
        for c in range(0, n, 5000):
            ids.update(
                s.execute(
                    Photo.__table__.select()
                    .with_only_columns(Photo.sha256, Photo.id)
                    .where(Photo.sha256.in_(shas[c : c + 5000]))
                ).all()
            )
        pids = np.array([ids[sha] for sha in shas], dtype=np.int64)
        rows = [
            {
                "photo_id": int(pid),
                "backbone_version": backbone,
                "dim": vectors.shape[1],
                "vector": vector_to_bytes(v),
                "created_at": now,
            }
            for pid, v in zip(pids, vectors, strict=True)
        ]
        for c in range(0, n, 5000):
            s.execute(Embedding.__table__.insert(), rows[c : c + 5000])
        if with_files is not None:
            files = [
                {
                    "photo_id": int(pid),
                    "path": str(with_files / f"p{start + i}.jpg"),
                    "size": 1000,
                    "mtime_ns": 0,
                    "status": "present",
                    "first_seen": now,
                    "last_seen": now,
                }
                for i, pid in enumerate(pids)
            ]
            s.execute(File.__table__.insert(), files)
    return pids


@pytest.fixture
def make_catalog(tmp_path: Path):
    """``make_catalog(n_per_class, backend="sqlite", **embedding_kwargs)``."""
    opened: list = []

    def make(n_per_class: list[int], backend: str = "sqlite", **kwargs) -> SyntheticCatalog:
        cm = temporary_catalog(backend, tmp_path)
        url = cm.__enter__()
        opened.append(cm)
        _, factory = db.open_catalog(url=url)
        vectors, classes = cluster_embeddings(n_per_class, **kwargs)
        ids = fill_catalog(factory, vectors, with_files=tmp_path)
        teacher = Teacher(factory, BACKBONE, cache_root=tmp_path / "cache")
        return SyntheticCatalog(factory, url, ids, classes, vectors, teacher)

    yield make
    for cm in reversed(opened):
        cm.__exit__(None, None, None)
    matrix_module.clear_memory()


@pytest.fixture(autouse=True)
def _fresh_matrix_memory() -> Iterator[None]:
    matrix_module.clear_memory()
    yield
    matrix_module.clear_memory()
