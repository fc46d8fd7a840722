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
from smartalbum.model.pipeline import working_side
from smartalbum.training.data import Dataset, open_dataset
from smartalbum.training.report import OUT_OF_SCOPE, format_report, format_review, review_report


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
    bar = tqdm(
        total=len(paths), unit="photo", desc="evaluating", disable=not progress, file=sys.stderr
    )
    for i, p in enumerate(paths):
        try:
            # decoded at the size `smartalbum classify` decodes at: what users get
            images.append(load_photo(p, max_side=working_side(engine), digest=False).image)
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


def relative_name(path: Path, root: Path | None) -> str:
    """``path`` relative to the dataset's folder when it lies inside it (reports and metrics
    files carry no absolute paths of the machine that made them), else its file name."""
    if root is not None:
        try:
            return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    return Path(path).name


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
    be scored on a 6-class dataset. Items labelled ``none`` (:data:`OUT_OF_SCOPE`: they
    belong to no class) are kept and scored for how many go to review. ``metrics`` is
    :func:`review_report`'s: per class and per source, accuracy, F1, share sent to review,
    accuracy among the sure ones, ECE.
    """
    h = engine.head(head)
    items = dataset.items if split is None else dataset.split(split)
    known = set(h.labels)
    scored = [it for it in items if it.label in known or it.label in OUT_OF_SCOPE]
    if not any(it.label in known for it in scored):
        raise ValueError(
            f"no photos of the head's labels ({', '.join(h.labels)}) in "
            f"{'the dataset' if split is None else f'the {split} split'}"
        )
    emb, errors = embed_paths(engine, [it.path for it in scored], progress=progress)
    bad = {e["index"] for e in errors}
    good = [it for i, it in enumerate(scored) if i not in bad]
    probs = h.probabilities(emb) if len(emb) else np.zeros((0, len(h.labels)))
    metrics = review_report(
        [it.label for it in good],
        probs,
        h.labels,
        threshold=h.threshold,
        sources=[it.source or "-" for it in good],
    )
    root = dataset.root or dataset.source
    mistakes = []
    for it, row in zip(good, probs, strict=True):
        pred = h.labels[int(np.argmax(row))]
        if pred != it.label and it.label in known:
            mistakes.append(
                {
                    "path": relative_name(it.path, root),
                    "true": it.label,
                    "predicted": pred,
                    "confidence": round(float(row.max()), 4),
                    "uncertain": bool(row.max() < h.threshold),
                }
            )
    mistakes.sort(key=lambda m: -m["confidence"])
    return {
        "bundle": engine.bundle.name,
        "bundle_version": engine.version,
        "precision": engine.bundle.backbone.get("precision", "fp32"),
        "head": h.name,
        "split": split or "all",
        "metrics": metrics,
        "skipped_other_labels": len(items) - len(scored),
        "errors": [
            {"path": relative_name(Path(e["path"]), root), "code": e["code"], "error": e["error"]}
            for e in errors
        ],
        "mistakes": mistakes[:max_mistakes],
    }


def format_evaluation(result: dict[str, Any]) -> str:
    """The terminal form of :func:`evaluate_engine`'s result (what ``smartalbum evaluate``
    prints): the classification table, the review figures per class and per source."""
    title = (
        f"{result['bundle']} / head {result['head']} / {result['split']} ({result['precision']})"
    )
    lines = [format_report(result["metrics"], title=title), "", format_review(result["metrics"])]
    if result["skipped_other_labels"]:
        lines.append(
            f"{result['skipped_other_labels']} photos of labels the head does not know were skipped"
        )
    if result["errors"]:
        lines.append(f"{len(result['errors'])} photos could not be read:")
        lines += [f"  {e['path']}: {e['code']}" for e in result["errors"][:20]]
    return "\n".join(lines)


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
