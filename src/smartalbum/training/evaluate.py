"""Score a model bundle on labelled photos with the serving engine (ONNX Runtime, no torch).

What is measured is exactly what users get: the bundle's ``backbone.onnx`` (int8 or fp32,
whichever was shipped), its preprocessing spec and its calibrated heads, all through
:class:`smartalbum.model.engine.Engine`. Imports nothing from torch, so
``smartalbum evaluate`` works in a serving-only install.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from smartalbum.imaging.decode import load_photo
from smartalbum.imaging.errors import PhotoError
from smartalbum.model.bundle import Bundle
from smartalbum.model.engine import Engine
from smartalbum.training.data import Dataset, open_dataset
from smartalbum.training.report import classification_metrics


def embed_paths(
    engine: Engine, paths: Sequence[Path], *, batch_size: int = 32, progress: bool = False
) -> tuple[np.ndarray, list[dict[str, str]]]:
    """Embeddings of the readable photos (in order) and the errors of the others.

    Returns ``(embeddings, errors)``; ``errors`` items carry ``index``, ``path`` and ``code``
    so callers can drop the matching labels.
    """
    embs: list[np.ndarray] = []
    errors: list[dict[str, Any]] = []
    images: list[np.ndarray] = []
    bar = tqdm(total=len(paths), unit="photo", desc="evaluating", disable=not progress,
               file=sys.stderr)
    for i, p in enumerate(paths):
        try:
            images.append(load_photo(p).image)
        except PhotoError as exc:
            errors.append({"index": i, "path": str(p), "code": exc.code, "error": str(exc)})
        if len(images) >= batch_size:
            embs.append(engine.embed(images))
            images = []
        bar.update(1)
    if images:
        embs.append(engine.embed(images))
    bar.close()
    dim = engine.embedding_dim or 0
    out = np.concatenate(embs) if embs else np.zeros((0, dim), dtype=np.float32)
    return out, errors


def evaluate_engine(
    engine: Engine,
    dataset: Dataset,
    head: str | None = None,
    *,
    split: str | None = "test",
    progress: bool = False,
    max_mistakes: int = 200,
) -> dict[str, Any]:
    """Metrics of one head on a dataset split (``split=None``: every item).

    Items whose label the head does not know are skipped and counted: a 3-class head can
    be scored on a 6-class dataset.
    """
    h = engine.head(head)
    items = dataset.items if split is None else dataset.split(split)
    known = set(h.labels)
    scored = [it for it in items if it.label in known]
    if not scored:
        raise ValueError(
            f"no photos of the head's labels ({', '.join(h.labels)}) in "
            f"{'the dataset' if split is None else f'the {split} split'}"
        )
    emb, errors = embed_paths(engine, [it.path for it in scored], progress=progress)
    bad = {e["index"] for e in errors}
    good = [it for i, it in enumerate(scored) if i not in bad]
    probs = h.probabilities(emb) if len(emb) else np.zeros((0, len(h.labels)))
    y = [it.label for it in good]
    metrics = classification_metrics(y, probs, h.labels, threshold=h.threshold)
    mistakes = []
    for it, row in zip(good, probs, strict=True):
        pred = h.labels[int(np.argmax(row))]
        if pred != it.label:
            mistakes.append({"path": str(it.path), "true": it.label, "predicted": pred,
                             "confidence": round(float(row.max()), 4)})
    mistakes.sort(key=lambda m: -m["confidence"])
    return {
        "bundle": engine.bundle.name,
        "bundle_version": engine.version,
        "precision": engine.bundle.backbone.get("precision", "fp32"),
        "head": h.name,
        "split": split or "all",
        "metrics": metrics,
        "skipped_other_labels": len(items) - len(scored),
        "errors": [{k: v for k, v in e.items() if k != "index"} for e in errors],
        "mistakes": mistakes[:max_mistakes],
    }


def evaluate_bundle(
    bundle_path: Path | str | None,
    dataset_or_folder: Path | str,
    head: str | None = None,
    *,
    split: str | None = "test",
    threads: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Load a bundle and score it on a prepared dataset (its ``split``) or a labelled folder.

    A plain folder (class sub-folders or ``label_xxx`` names) is scored whole.
    """
    ds = open_dataset(Path(dataset_or_folder))
    if ds.root is None:  # a raw folder: every photo is a test photo
        split = "test"
    engine = Engine(Bundle.load(bundle_path), threads=threads, blas_threads=None)
    return evaluate_engine(engine, ds, head, split=split, progress=progress)
