"""The embeddings a bundle's own heads were trained on, shipped so they can be retrained.

Retraining ``album6`` from a user's corrections needs more than those corrections: with
only the user's 20 labelled photos a new head would forget everything else. The bundle
therefore carries ``train_embeddings.npz``: one embedding per training photo (int8 with a
per-row scale: 1/4 of float32, well inside what a head can tell apart), its label and its
source, plus the cross-source validation photos the shipped heads were calibrated on, so a
retrained head is fitted and calibrated by the same recipe (model/fitting.py).
Embeddings and labels are derived numbers, not the photos: no image leaves the data set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from smartalbum.atomic import atomic_open
from smartalbum.model.bundle import Bundle

FILE = "train_embeddings.npz"


@dataclass(frozen=True)
class TrainingEmbeddings:
    """What a bundle ships for retraining its heads.

    ``x``/``labels``/``sources``: the training photos (a head's labels, or ``none`` for
    photos of no class) and where each came from, so a refit balances sources the way the
    shipped fit did. ``val_x``/``val_labels``: the cross-source validation photos the
    shipped heads' temperature and threshold were chosen on, so a refit is calibrated the
    same way (0 rows in bundles that ship none).
    """

    x: np.ndarray
    labels: np.ndarray
    sources: np.ndarray
    val_x: np.ndarray
    val_labels: np.ndarray


def _quantise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = np.maximum(np.abs(x).max(axis=1), 1e-12) / 127.0 if len(x) else np.zeros(0)
    q = np.clip(np.rint(x / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def write(
    bundle_dir: Path | str,
    embeddings: np.ndarray,
    labels: Sequence[str],
    *,
    sources: Sequence[str] | None = None,
    validation: tuple[np.ndarray, Sequence[str]] | None = None,
) -> Path:
    """Store ``embeddings`` (N x D float) with their ``labels`` (and ``sources``; and the
    ``validation`` embeddings and labels) in the bundle folder."""
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or len(x) != len(labels):
        raise ValueError(f"need N x D embeddings and N labels, got {x.shape} and {len(labels)}")
    if sources is not None and len(sources) != len(labels):
        raise ValueError(f"need one source per row, got {len(sources)} for {len(labels)}")
    q, scale = _quantise(x)
    arrays = {"q": q, "scale": scale, "labels": np.asarray(labels)}
    if sources is not None:
        arrays["sources"] = np.asarray(sources)
    if validation is not None:
        vx = np.asarray(validation[0], dtype=np.float32).reshape(-1, x.shape[1])
        if len(vx) != len(validation[1]):
            raise ValueError("need one label per validation embedding")
        arrays["val_q"], arrays["val_scale"] = _quantise(vx)
        arrays["val_labels"] = np.asarray(validation[1])
    path = Path(bundle_dir) / FILE
    with atomic_open(path) as f:
        np.savez_compressed(f, **arrays)
    return path


def load(bundle: Bundle) -> TrainingEmbeddings | None:
    """The bundle's :class:`TrainingEmbeddings`, or None when it ships none."""
    path = Path(bundle.path) / FILE
    if not path.is_file():
        return None
    with np.load(path) as npz:
        x = npz["q"].astype(np.float32) * npz["scale"][:, None]
        labels = npz["labels"].astype(str)
        sources = npz["sources"].astype(str) if "sources" in npz else np.full(len(x), "")
        if "val_q" in npz:
            val_x = npz["val_q"].astype(np.float32) * npz["val_scale"][:, None]
            val_labels = npz["val_labels"].astype(str)
        else:
            val_x, val_labels = np.zeros((0, x.shape[1]), np.float32), np.zeros(0, str)
    return TrainingEmbeddings(x, labels, sources, val_x, val_labels)


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
