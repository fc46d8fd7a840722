"""The embeddings a bundle's own heads were trained on, shipped so they can be retrained.

Retraining ``album6`` from a user's corrections needs more than those corrections: with
only the user's 20 labelled photos a new head would forget everything else. The bundle
therefore carries ``train_embeddings.npz``: one embedding per training photo (int8 with a
per-row scale: 1/4 of float32, well inside what a head can tell apart) and its label.
Embeddings and labels are derived numbers, not the photos: no image leaves the data set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from smartalbum.atomic import atomic_open
from smartalbum.model.bundle import Bundle

FILE = "train_embeddings.npz"


def write(bundle_dir: Path | str, embeddings: np.ndarray, labels: Sequence[str]) -> Path:
    """Store ``embeddings`` (N x D float) with their ``labels`` in the bundle folder."""
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or len(x) != len(labels):
        raise ValueError(f"need N x D embeddings and N labels, got {x.shape} and {len(labels)}")
    scale = np.maximum(np.abs(x).max(axis=1), 1e-12) / 127.0
    q = np.clip(np.rint(x / scale[:, None]), -127, 127).astype(np.int8)
    path = Path(bundle_dir) / FILE
    with atomic_open(path) as f:
        np.savez_compressed(f, q=q, scale=scale.astype(np.float32), labels=np.asarray(labels))
    return path


def load(bundle: Bundle) -> tuple[np.ndarray, np.ndarray] | None:
    """(embeddings N x D float32, labels N) of the bundle, or None when it ships none."""
    path = Path(bundle.path) / FILE
    if not path.is_file():
        return None
    with np.load(path) as npz:
        x = npz["q"].astype(np.float32) * npz["scale"][:, None]
        return x, npz["labels"].astype(str)


def compute(
    bundle_dir: Path | str,
    photos: Sequence[tuple[Path, str]],
    *,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Embed ``(path, label)`` photos with the bundle's own engine and write the file."""
    from smartalbum.model.engine import Engine
    from smartalbum.model.pipeline import classify_files

    engine = Engine.load(bundle_dir, threads=1)
    rows, labels = [], []
    files = [p for p, _ in photos]
    for (_, label), result in zip(
        photos, classify_files(files, engine, keep_embeddings=True, hash_files=False), strict=True
    ):
        if result.embedding is not None:
            rows.append(result.embedding)
            labels.append(label)
        if progress:
            progress(1)
    return write(bundle_dir, np.stack(rows), labels)
