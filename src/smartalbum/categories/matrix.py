"""The catalog's embeddings as one matrix, for re-sorting without a backbone run.

Reading 50,000 embedding blobs row by row out of the catalog costs seconds (250 MB for
1280-d float32), while scoring them is one matrix product (tens of milliseconds). So the
matrix is cached: in memory per process, and as ``.npy`` files under
``<data_dir>/cache/embeddings/<backbone version>``, memory-mapped on load. The cache is
keyed by (count, max embedding id) of that backbone version: embeddings are only ever
inserted (never updated in place) with growing ids, so when the count grew by exactly the
rows above the cached max id, only those rows are read and appended; any other change
(a deleted photo) rebuilds it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartalbum.library.schema import Embedding

_READ_CHUNK = 5000


@dataclass(frozen=True)
class EmbeddingMatrix:
    """Photo ids (N,) and their embeddings (N x D float32) for one backbone version."""

    backbone_version: str
    photo_ids: np.ndarray
    vectors: np.ndarray
    max_embedding_id: int

    def __len__(self) -> int:
        return int(self.photo_ids.shape[0])

    def rows(self, photo_ids: list[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(photo ids found, their embeddings) for the given ids, in the given order."""
        wanted = np.asarray(photo_ids, dtype=np.int64)
        dim = self.vectors.shape[1] if self.vectors.ndim == 2 else 0
        if len(self) == 0 or len(wanted) == 0:
            return wanted[:0], np.zeros((0, dim), np.float32)
        order = np.argsort(self.photo_ids, kind="stable")
        sorted_ids = self.photo_ids[order]
        pos = np.clip(np.searchsorted(sorted_ids, wanted), 0, len(sorted_ids) - 1)
        ok = sorted_ids[pos] == wanted
        return wanted[ok], np.asarray(self.vectors[order[pos[ok]]], dtype=np.float32)


_memory: dict[tuple[str, str], EmbeddingMatrix] = {}
_lock = threading.Lock()


def _state(session: Session, backbone_version: str) -> tuple[int, int]:
    count, max_id = session.execute(
        select(func.count(Embedding.id), func.max(Embedding.id)).where(
            Embedding.backbone_version == backbone_version
        )
    ).one()
    return int(count or 0), int(max_id or 0)


def _read(
    session: Session, backbone_version: str, above_id: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Embeddings with id > above_id: (photo ids, matrix, max id), read in id order.

    Each blob is copied once, straight into its row of the matrix (no joined copy).
    """
    ids: list[int] = []
    parts: list[np.ndarray] = []
    last = above_id
    while True:
        rows = session.execute(
            select(Embedding.id, Embedding.photo_id, Embedding.vector)
            .where(Embedding.backbone_version == backbone_version, Embedding.id > last)
            .order_by(Embedding.id)
            .limit(_READ_CHUNK)
        ).all()
        if not rows:
            break
        dim = len(rows[0][2]) // 4
        block = np.empty((len(rows), dim), dtype=np.float32)
        for i, (_eid, pid, vec) in enumerate(rows):
            block[i] = np.frombuffer(vec, dtype="<f4")
            ids.append(pid)
        parts.append(block)
        last = rows[-1][0]
    if not parts:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32), last
    vectors = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return np.asarray(ids, np.int64), vectors, last


def _cache_dir(cache_root: Path | None, backbone_version: str) -> Path | None:
    if cache_root is None:
        return None
    return Path(cache_root) / "embeddings" / backbone_version


def _load_files(folder: Path | None) -> EmbeddingMatrix | None:
    if folder is None or not (folder / "meta.json").is_file():
        return None
    try:
        meta = json.loads((folder / "meta.json").read_text())
        ids = np.load(folder / "ids.npy")
        vectors = np.load(folder / "vectors.npy", mmap_mode="r")
    except (OSError, ValueError):
        return None
    if len(ids) != len(vectors):
        return None
    return EmbeddingMatrix(meta["backbone_version"], ids, vectors, int(meta["max_id"]))


def _save_files(folder: Path | None, m: EmbeddingMatrix) -> None:
    """Write ids, vectors, then the meta file last (atomically): a reader that sees the
    meta sees complete arrays."""
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, arr in (("ids", m.photo_ids), ("vectors", np.asarray(m.vectors))):
            tmp = folder / f"{name}.tmp.npy"
            np.save(tmp, arr)
            tmp.replace(folder / f"{name}.npy")
        meta = {
            "backbone_version": m.backbone_version,
            "max_id": m.max_embedding_id,
            "count": len(m),
        }
        tmp = folder / "meta.json.tmp"
        tmp.write_text(json.dumps(meta))
        tmp.replace(folder / "meta.json")
    except OSError:
        pass  # a read-only data dir only costs speed


def embedding_matrix(
    session: Session, backbone_version: str, *, cache_root: Path | None = None
) -> EmbeddingMatrix:
    """Every stored embedding of ``backbone_version`` (cached; see the module doc)."""
    bind = session.get_bind()
    key = (bind.url.render_as_string(hide_password=True), backbone_version)
    count, max_id = _state(session, backbone_version)
    folder = _cache_dir(cache_root, backbone_version)
    with _lock:
        cached = _memory.get(key)
    if cached is None:
        cached = _load_files(folder)
    if cached is not None and len(cached) == count and cached.max_embedding_id == max_id:
        with _lock:
            _memory[key] = cached
        return cached
    if cached is not None and max_id > cached.max_embedding_id:
        new_ids, new_vecs, last = _read(session, backbone_version, cached.max_embedding_id)
        if len(cached) + len(new_ids) == count and (
            len(cached) == 0 or new_vecs.shape[1] == cached.vectors.shape[1]
        ):
            ids = np.concatenate([cached.photo_ids, new_ids])
            vecs = (
                np.concatenate([np.asarray(cached.vectors), new_vecs]) if len(cached) else new_vecs
            )
            result = EmbeddingMatrix(backbone_version, ids, vecs, last)
            _store(key, folder, result)
            return result
    ids, vecs, last = _read(session, backbone_version, 0)
    result = EmbeddingMatrix(backbone_version, ids, vecs, last)
    _store(key, folder, result)
    return result


def _store(key: tuple[str, str], folder: Path | None, m: EmbeddingMatrix) -> None:
    with _lock:
        _memory[key] = m
    _save_files(folder, m)


def clear_memory() -> None:
    """Forget the in-process matrices (tests)."""
    with _lock:
        _memory.clear()
