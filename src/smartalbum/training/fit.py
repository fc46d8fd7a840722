"""The seed recipe, made reproducible: frozen pretrained backbone + a new head, into a bundle.

1. :func:`compute_embeddings` runs the frozen backbone once per photo and view (augmented
   views for training, the plain serving preprocessing for val/test) and caches the result
   by content, so re-fitting heads takes seconds.
2. :func:`fit_head` trains a linear head (or a 1-hidden-layer MLP) on L2-normalised
   embeddings: class-weighted cross-entropy, Adam 1e-3, StepLR (x0.1 every 5 epochs),
   early stopping on validation loss (patience 3) with an atomically written best
   checkpoint; then temperature scaling and the ``uncertain`` threshold, both on val.
3. :func:`fine_tune` (``--unfreeze K``) optionally trains the last K blocks end-to-end first.
4. :func:`train_bundle` exports the backbone to ONNX (fp32 and static int8), keeps int8 only
   if heads agree with fp32 on val, scores every head on the test split *with the exported
   engine* and writes the bundle, its metrics, plots and model card.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from smartalbum.atomic import atomic_open
from smartalbum.imaging.decode import load_photo
from smartalbum.imaging.preprocess import PreprocessSpec
from smartalbum.model.bundle import IMAGENET_FC, Bundle, write_bundle
from smartalbum.model.calibration import (
    TEMPERATURE_BOUNDS,
    choose_threshold,
    fit_temperature,
)
from smartalbum.model.concepts import CONCEPTS
from smartalbum.model.engine import Engine
from smartalbum.model.heads import Head, fit_logistic_head, l2_normalize, softmax
from smartalbum.training import export as onnx_export
from smartalbum.training.augment import AugmentConfig, EvalTransform, TrainTransform
from smartalbum.training.backbones import (
    Backbone,
    build_backbone,
    default_spec,
    freeze,
    train_mode,
)
from smartalbum.training.card import build_card
from smartalbum.training.data import Dataset, Item, load_dataset
from smartalbum.training.evaluate import evaluate_engine
from smartalbum.training.export import OnnxBackbone
from smartalbum.training.report import (
    classification_metrics,
    format_report,
    plot_confusion,
    plot_curves,
)

Transform = Callable[[np.ndarray], np.ndarray]


def set_threads(threads: int | None = None) -> int:
    """Torch intra-op threads: all cores up to 2 by default (the target is a 2-core box)."""
    n = threads if threads and threads > 0 else min(2, os.cpu_count() or 1)
    torch.set_num_threads(n)
    return n


def _log(progress: bool, msg: str) -> None:
    if progress:
        print(msg, file=sys.stderr, flush=True)


# -- embeddings -----------------------------------------------------------------------------


def _describe(transform: Transform) -> Any:
    describe = getattr(transform, "describe", None)
    return describe() if callable(describe) else repr(transform)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _cache_file(
    cache: Path, model: Backbone, transform: Transform, views: int, plain_first: bool,
    max_side: int | None, with_logits: bool,
) -> Path:
    key = json.dumps(
        {
            "arch": getattr(model, "arch", type(model).__name__),
            "weights": getattr(model, "weights_id", None),
            "transform": _describe(transform),
            "views": views,
            "plain_first": plain_first,
            "max_side": max_side,
            "logits": with_logits,
        },
        sort_keys=True,
        default=str,
    )
    return cache / f"emb-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npz"


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    with atomic_open(path) as f:
        np.savez(f, **arrays)


def compute_embeddings(
    model: Backbone | OnnxBackbone,
    paths: Sequence[Path],
    transform: Transform,
    *,
    views: int = 1,
    batch_size: int = 32,
    cache: Path | None = None,
    plain_first: bool = False,
    with_logits: bool = False,
    keys: Sequence[str] | None = None,
    max_side: int | None = None,
    threads: int | None = None,
    progress: bool = True,
    desc: str = "embedding",
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Backbone embeddings of ``views`` transformed copies of each photo: ``views x N x D``.

    Each photo is decoded once (``load_photo``, working size ``max_side``); view 0 is the
    plain :class:`EvalTransform` when ``plain_first``. A torch backbone runs under
    ``torch.inference_mode``; an :class:`OnnxBackbone` (its fp32 export) runs in ONNX
    Runtime, which is several times faster on a small CPU and gives the same numbers. With ``cache`` (a directory) results are stored in an
    ``.npz`` keyed by (arch, weights, transform description incl. spec, views) and, inside
    it, by each file's SHA-256 (``keys``, else hashed here), so a rerun - or a run with a few
    new photos - only computes what is missing. With ``with_logits`` returns
    ``(embeddings, imagenet_logits)``.
    """
    if views < 1:
        raise ValueError("views must be >= 1")
    set_threads(threads)
    is_torch = isinstance(model, nn.Module)
    if is_torch:
        model = model.eval()
    n = len(paths)
    spec: PreprocessSpec | None = getattr(transform, "spec", None)
    plain = EvalTransform(spec) if (plain_first and spec is not None) else None
    if plain_first and plain is None:
        raise ValueError("plain_first needs a transform with a .spec")
    dim = int(getattr(model, "embedding_dim", 0))

    cache_path = None
    cached: dict[str, int] = {}
    old: dict[str, np.ndarray] = {}
    if cache is not None:
        cache_path = _cache_file(Path(cache), model, transform, views, plain_first, max_side,
                                 with_logits)
        keys = list(keys) if keys is not None else [_file_sha256(Path(p)) for p in paths]
        if cache_path.is_file():
            with np.load(cache_path) as z:
                old = {k: z[k] for k in z.files}
            cached = {str(k): i for i, k in enumerate(old["keys"])}

    emb = np.zeros((views, n, dim), dtype=np.float32)
    logits = np.zeros((views, n, 1000), dtype=np.float32) if with_logits else None
    todo = []
    for i in range(n):
        j = cached.get(keys[i]) if keys is not None and cached else None
        if j is not None:
            emb[:, i] = old["emb"][:, j]
            if logits is not None:
                logits[:, i] = old["logits"][:, j]
        else:
            todo.append(i)

    batch: list[np.ndarray] = []
    where: list[tuple[int, int]] = []

    def flush() -> None:
        if not batch:
            return
        x = np.stack(batch)
        if is_torch:
            with torch.inference_mode():
                e, lg = model(torch.from_numpy(x))
            e, lg = e.numpy(), lg.numpy()
        else:
            e, lg = model(x)
        for (v, i), row, lrow in zip(where, e, lg, strict=True):
            emb[v, i] = row
            if logits is not None:
                logits[v, i] = lrow
        batch.clear()
        where.clear()

    bar = tqdm(total=len(todo), unit="photo", desc=desc, disable=not progress or not todo,
               file=sys.stderr)
    for i in todo:
        image = load_photo(paths[i], max_side=max_side).image
        for v in range(views):
            t = plain if (v == 0 and plain is not None) else transform
            batch.append(t(image))
            where.append((v, i))
            if len(batch) >= batch_size:
                flush()
        bar.update(1)
    flush()
    bar.close()

    if cache_path is not None and todo:
        assert keys is not None
        merged_keys = list(old["keys"]) if old else []
        arrays = {"emb": [old["emb"]] if old else [], "logits": [old["logits"]] if old and
                  logits is not None else []}
        merged_keys += [keys[i] for i in todo]
        arrays["emb"].append(emb[:, todo])
        if logits is not None:
            arrays["logits"].append(logits[:, todo])
        out = {"keys": np.asarray(merged_keys), "emb": np.concatenate(arrays["emb"], axis=1)}
        if logits is not None:
            out["logits"] = np.concatenate(arrays["logits"], axis=1)
        _save_npz(cache_path, **out)
    return (emb, logits) if logits is not None else emb


# -- head -----------------------------------------------------------------------------------


@dataclass
class FitResult:
    """A fitted head, how training went, and its validation metrics."""

    head: Head
    history: list[dict[str, float]]
    best_epoch: int
    temperature: float
    threshold: float
    val_metrics: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "labels": list(self.head.labels),
            "best_epoch": self.best_epoch,
            "epochs_run": len(self.history),
            "temperature": self.temperature,
            "threshold": self.threshold,
            "val": self.val_metrics,
            "history": self.history,
        }


def _indices(y: Sequence[Any] | np.ndarray, labels: Sequence[str]) -> np.ndarray:
    arr = np.asarray(y)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    index = {lab: i for i, lab in enumerate(labels)}
    return np.asarray([index[str(v)] for v in arr], dtype=np.int64)


def _flatten_views(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """V x N x D embeddings (several views) -> (V*N) x D rows with repeated labels."""
    if x.ndim == 3:
        return x.reshape(-1, x.shape[-1]), np.tile(y, x.shape[0])
    return x, y


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse-frequency weights, N / (C * n_c), so every class counts equally in the loss."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, len(y) / (n_classes * np.maximum(counts, 1)), 0.0)
    return w.astype(np.float32)


def _make_head_net(d: int, c: int, hidden: int | None, dropout: float) -> nn.Sequential:
    if hidden:
        return nn.Sequential(
            nn.Dropout(dropout), nn.Linear(d, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, c),
        )
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(d, c))


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """timm CheckpointSaver style: a crash mid-save leaves the previous checkpoint whole."""
    with atomic_open(path) as f:
        torch.save(state, f)


def fit_head(
    train_x: np.ndarray,
    train_y: Sequence[Any] | np.ndarray,
    val_x: np.ndarray,
    val_y: Sequence[Any] | np.ndarray,
    labels: Sequence[str],
    *,
    name: str = "head",
    hidden: int | None = None,
    dropout: float = 0.0,
    epochs: int = 30,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    batch_size: int = 64,
    class_weighted: bool = True,
    standardize: bool = True,
    patience: int = 3,
    step_size: int = 5,
    gamma: float = 0.1,
    checkpoint: Path | None = None,
    seed: int = 0,
    target_precision: float = 0.99,
    threshold_bounds: tuple[float, float] = (0.4, 0.9),
    temperature_bounds: tuple[float, float] = TEMPERATURE_BOUNDS,
    description: str = "",
) -> FitResult:
    """Train a head on embeddings (N x D, or V x N x D for several views per photo).

    Inputs are L2-normalised exactly as :class:`Head` does at serving time (and, with
    ``standardize``, shifted/scaled by the train mean/std stored in the head), so the
    exported head reproduces the trained one to float precision. Returns the best epoch's
    head (lowest val loss), calibrated on val.
    """
    labels = list(labels)
    c = len(labels)
    if c < 2:
        raise ValueError("a head needs at least two labels")
    ytr = _indices(train_y, labels)
    yva = _indices(val_y, labels)
    xtr, ytr = _flatten_views(np.asarray(train_x, dtype=np.float32), ytr)
    xva, yva = _flatten_views(np.asarray(val_x, dtype=np.float32), yva)
    if len(xtr) == 0 or len(xva) == 0:
        raise ValueError("fit_head needs non-empty train and val sets")
    missing = [labels[i] for i in range(c) if not (ytr == i).any()]
    if missing:
        raise ValueError(f"no training photos for: {', '.join(missing)}")

    xtr_n, xva_n = l2_normalize(xtr), l2_normalize(xva)
    mean = scale = None
    if standardize:
        # Scales are floored at the median std: a channel that barely fires in train would
        # otherwise be blown up and dominate any photo on which it does fire.
        mean = xtr_n.mean(axis=0).astype(np.float32)
        std = xtr_n.std(axis=0)
        scale = np.maximum(std, max(float(np.median(std)), 1e-6)).astype(np.float32)
        xtr_n, xva_n = (xtr_n - mean) / scale, (xva_n - mean) / scale

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = _make_head_net(xtr.shape[1], c, hidden, dropout)
    w = torch.from_numpy(class_weights(ytr, c)) if class_weighted else None
    criterion = nn.CrossEntropyLoss(weight=w)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=gamma)
    tx, ty = torch.from_numpy(np.ascontiguousarray(xtr_n)), torch.from_numpy(ytr)
    vx, vy = torch.from_numpy(np.ascontiguousarray(xva_n)), torch.from_numpy(yva)

    history: list[dict[str, float]] = []
    best_loss, best_epoch, best_state, bad = math.inf, 0, copy.deepcopy(net.state_dict()), 0
    for epoch in range(1, epochs + 1):
        net.train()
        perm = torch.randperm(len(tx), generator=gen)
        total, correct, seen = 0.0, 0, 0
        for start in range(0, len(perm), batch_size):
            idx = perm[start : start + batch_size]
            out = net(tx[idx])
            loss = criterion(out, ty[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            correct += int((out.argmax(1) == ty[idx]).sum())
            seen += len(idx)
        net.eval()
        with torch.no_grad():
            vout = net(vx)
            vloss = float(criterion(vout, vy))
            vacc = float((vout.argmax(1) == vy).float().mean())
        rec = {"epoch": epoch, "lr": opt.param_groups[0]["lr"], "train_loss": total / seen,
               "train_acc": correct / seen, "val_loss": vloss, "val_acc": vacc, "best": False}
        history.append(rec)
        sched.step()
        if vloss < best_loss - 1e-6:
            best_loss, best_epoch, bad = vloss, epoch, 0
            best_state = copy.deepcopy(net.state_dict())
            rec["best"] = True
            if checkpoint is not None:
                _save_checkpoint(Path(checkpoint), {"epoch": epoch, "state_dict": best_state,
                                                    "labels": labels, "val_loss": vloss})
        else:
            bad += 1
            if bad >= patience:
                break
    net.load_state_dict(best_state)

    linears = [m for m in net if isinstance(m, nn.Linear)]
    head = Head(
        name=name,
        labels=labels,
        weights=[m.weight.detach().numpy().T.astype(np.float32).copy() for m in linears],
        biases=[m.bias.detach().numpy().astype(np.float32).copy() for m in linears],
        l2_normalize=True,
        mean=mean,
        scale=scale,
        description=description,
    )
    # Calibrate on val with the numpy head itself: what is served is what is calibrated.
    val_logits = head.logits(xva).astype(np.float64)
    head.temperature = fit_temperature(val_logits, yva, temperature_bounds)
    probs = softmax(val_logits / head.temperature)
    head.threshold = choose_threshold(probs, yva, target=target_precision,
                                      bounds=threshold_bounds)
    val_metrics = classification_metrics(yva, probs, labels, threshold=head.threshold)
    head.metrics = {"val_accuracy": val_metrics["accuracy"],
                    "val_macro_f1": val_metrics["macro_f1"], "val_ece": val_metrics["ece"]}
    return FitResult(head, history, best_epoch, head.temperature, head.threshold, val_metrics)


def fit_logreg_head(
    train_x: np.ndarray,
    train_y: Sequence[Any] | np.ndarray,
    val_x: np.ndarray,
    val_y: Sequence[Any] | np.ndarray,
    labels: Sequence[str],
    *,
    name: str = "head",
    c: float = 1.0,
    concepts: dict[str, list[int]] | None = None,
    concept_fc: tuple[np.ndarray, np.ndarray] | None = None,
    concept_scale: float = 0.1,
    class_weighted: bool = True,
    target_precision: float = 0.99,
    threshold_bounds: tuple[float, float] = (0.4, 0.9),
    temperature_bounds: tuple[float, float] = TEMPERATURE_BOUNDS,
    description: str = "",
    **_: Any,
) -> FitResult:
    """The numpy/scikit-learn alternative to :func:`fit_head` (no epochs, no torch).

    Multinomial logistic regression (L-BFGS, L2 penalty ``1/c``) over the same features a
    :class:`Head` computes at serving time (L2-normalised embedding, plus ImageNet concept
    scores when ``concepts`` is given), calibrated on val exactly like :func:`fit_head`.
    This is the recipe of the shipped model (see docs/model.md for the measurements).
    """
    labels = list(labels)
    ytr = _indices(train_y, labels)
    yva = _indices(val_y, labels)
    xtr, ytr = _flatten_views(np.asarray(train_x, dtype=np.float32), ytr)
    xva, yva = _flatten_views(np.asarray(val_x, dtype=np.float32), yva)
    head = fit_logistic_head(
        name, labels, xtr, ytr, c=c, concepts=concepts, concept_fc=concept_fc,
        concept_scale=concept_scale, class_weighted=class_weighted, description=description,
    )
    val_logits = head.logits(xva).astype(np.float64)
    head.temperature = fit_temperature(val_logits, yva, temperature_bounds)
    probs = softmax(val_logits / head.temperature)
    head.threshold = choose_threshold(probs, yva, target=target_precision,
                                      bounds=threshold_bounds)
    val_metrics = classification_metrics(yva, probs, labels, threshold=head.threshold)
    head.metrics = {"val_accuracy": val_metrics["accuracy"],
                    "val_macro_f1": val_metrics["macro_f1"], "val_ece": val_metrics["ece"]}
    history = [{"epoch": 1, "lr": 0.0, "train_loss": float("nan"), "train_acc": float("nan"),
                "val_loss": float(-np.mean(np.log(probs[np.arange(len(yva)), yva] + 1e-12))),
                "val_acc": val_metrics["accuracy"], "best": True}]
    return FitResult(head, history, 1, head.temperature, head.threshold, val_metrics)


def imagenet_classifier(model: Backbone) -> tuple[np.ndarray, np.ndarray]:
    """The backbone's (linear) ImageNet classifier as numpy (weight D x 1000, bias 1000)."""
    with torch.no_grad():
        zero = torch.zeros(1, model.embedding_dim)
        bias = model.classifier(zero)[0]
        weight = model.classifier(torch.eye(model.embedding_dim)) - bias
    return weight.numpy().astype(np.float32), bias.numpy().astype(np.float32)


# -- fine-tuning ----------------------------------------------------------------------------


def _decode_items(items: Sequence[Item], max_side: int, progress: bool, desc: str) -> list[np.ndarray]:
    return [load_photo(it.path, max_side=max_side).image
            for it in tqdm(items, desc=desc, unit="photo", disable=not progress, file=sys.stderr)]


def fine_tune(
    model: Backbone,
    train: Sequence[Item],
    val: Sequence[Item],
    labels: Sequence[str],
    spec: PreprocessSpec,
    *,
    unfreeze: int,
    epochs: int = 10,
    lr: float = 1e-3,
    backbone_lr: float = 1e-4,
    batch_size: int = 32,
    augment: AugmentConfig | None = None,
    strength: float = 1.0,
    patience: int = 3,
    step_size: int = 5,
    gamma: float = 0.1,
    checkpoint: Path | None = None,
    seed: int = 0,
    threads: int | None = None,
    progress: bool = True,
) -> tuple[Backbone, list[dict[str, float]]]:
    """Train the last ``unfreeze`` blocks (+ head conv) and a temporary linear head end-to-end.

    Same recipe as :func:`fit_head` (class-weighted CE, Adam, StepLR, early stopping on val
    loss, best checkpoint written atomically) with a smaller learning rate for the backbone.
    Frozen blocks stay in eval mode. Returns the best backbone (eval mode); heads are then
    fitted on its embeddings as usual.
    """
    set_threads(threads)
    labels = list(labels)
    torch.manual_seed(seed)
    # channels_last roughly halves the time of these depthwise-conv nets on a CPU
    model = model.to(memory_format=torch.channels_last)
    params = freeze(model, unfreeze)
    head = nn.Linear(model.embedding_dim, len(labels))
    opt = torch.optim.Adam([{"params": params, "lr": backbone_lr},
                            {"params": head.parameters(), "lr": lr}])
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=gamma)
    ytr = _indices([it.label for it in train], labels)
    yva = torch.from_numpy(_indices([it.label for it in val], labels))
    criterion = nn.CrossEntropyLoss(weight=torch.from_numpy(class_weights(ytr, len(labels))))
    max_side = max(2 * spec.size, 256)
    train_imgs = _decode_items(train, max_side, progress, "decoding train")
    val_x = torch.from_numpy(np.stack([EvalTransform(spec)(im) for im in
                                       _decode_items(val, max_side, progress, "decoding val")]))
    tf = TrainTransform(spec, augment, strength=strength, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    ty = torch.from_numpy(ytr)

    history: list[dict[str, float]] = []
    best = (math.inf, 0, copy.deepcopy(model.state_dict()), copy.deepcopy(head.state_dict()))
    bad = 0
    for epoch in range(1, epochs + 1):
        train_mode(model)
        head.train()
        perm = torch.randperm(len(train_imgs), generator=gen).tolist()
        total, correct = 0.0, 0
        bar = tqdm(total=len(perm), desc=f"fine-tune {epoch}/{epochs}", unit="photo",
                   disable=not progress, file=sys.stderr)
        for start in range(0, len(perm), batch_size):
            idx = perm[start : start + batch_size]
            x = torch.from_numpy(np.stack([tf(train_imgs[i]) for i in idx]))
            emb, _ = model(x.contiguous(memory_format=torch.channels_last))
            out = head(F.normalize(emb, dim=1) * 16.0)
            loss = criterion(out, ty[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            correct += int((out.argmax(1) == ty[idx]).sum())
            bar.update(len(idx))
        bar.close()
        model.eval()
        head.eval()
        with torch.inference_mode():
            vemb = torch.cat([
                model(val_x[s : s + batch_size].contiguous(memory_format=torch.channels_last))[0]
                for s in range(0, len(val_x), batch_size)
            ])
            vout = head(F.normalize(vemb, dim=1) * 16.0)
            vloss = float(criterion(vout, yva))
            vacc = float((vout.argmax(1) == yva).float().mean())
        rec = {"epoch": epoch, "lr": opt.param_groups[0]["lr"], "train_loss": total / len(perm),
               "train_acc": correct / len(perm), "val_loss": vloss, "val_acc": vacc,
               "best": False}
        history.append(rec)
        _log(progress, f"fine-tune epoch {epoch}: train loss {rec['train_loss']:.4f} "
                       f"val loss {vloss:.4f} val acc {vacc:.3f}")
        sched.step()
        if vloss < best[0] - 1e-6:
            best = (vloss, epoch, copy.deepcopy(model.state_dict()),
                    copy.deepcopy(head.state_dict()))
            rec["best"] = True
            bad = 0
            if checkpoint is not None:
                _save_checkpoint(Path(checkpoint), {"epoch": epoch, "unfreeze": unfreeze,
                                                    "arch": model.arch,
                                                    "state_dict": model.net.state_dict(),
                                                    "val_loss": vloss})
        else:
            bad += 1
            if bad >= patience:
                break
    model.load_state_dict(best[2])
    model = model.to(memory_format=torch.contiguous_format)
    for p in model.parameters():
        p.requires_grad_(False)
    digest = hashlib.sha256(str(best[0]).encode() + model.weights_id.encode()).hexdigest()[:8]
    model.weights_id = f"{model.weights_id}+ft{unfreeze}-{digest}"
    return model.eval(), history


# -- the whole pipeline ---------------------------------------------------------------------


def _preprocessed(items: Sequence[Item], spec: PreprocessSpec) -> np.ndarray:
    t = EvalTransform(spec)
    return np.stack([t(load_photo(it.path).image) for it in items]).astype(np.float32)


def _spread(items: Sequence[Item], n: int) -> list[Item]:
    """Up to ``n`` items spread over the classes (round-robin), deterministic."""
    by: dict[str, list[Item]] = {}
    for it in sorted(items, key=lambda i: (i.label, i.sha256 or str(i.path))):
        by.setdefault(it.label, []).append(it)
    out: list[Item] = []
    k = 0
    while len(out) < n and any(k < len(v) for v in by.values()):
        for v in by.values():
            if k < len(v) and len(out) < n:
                out.append(v[k])
        k += 1
    return out


def train_bundle(
    dataset_dir: Path,
    out: Path,
    *,
    arch: str = "efficientnet-lite0",
    weights: Path | None = None,
    spec: PreprocessSpec | None = None,
    heads: dict[str, Sequence[str] | None] | None = None,
    default_head: str | None = None,
    views: int = 4,
    plain_view: bool = True,
    augment: AugmentConfig | None = None,
    strength: float = 1.0,
    head_options: dict[str, Any] | None = None,
    head_fitter: str = "seed",
    concepts: bool = False,
    unfreeze: int = 0,
    finetune_options: dict[str, Any] | None = None,
    epochs: int = 30,
    quantize: bool = True,
    min_agreement: float = 0.99,
    calibration_size: int = 64,
    cache: Path | bool | None = True,
    embed_backend: str = "onnx",
    name: str | None = None,
    card_extra: str = "",
    seed: int = 0,
    threads: int | None = None,
    progress: bool = True,
) -> Bundle:
    """Build a complete model bundle from a prepared dataset.

    ``heads`` maps head name -> labels it keeps (None = all labels of the dataset). Train
    embeddings use ``views`` augmented copies per photo (+ one plain copy when
    ``plain_view``), val/test the plain serving preprocessing. ``head_options`` go to
    :func:`fit_head` (``hidden``, ``lr``, ``standardize``...), ``finetune_options`` to
    :func:`fine_tune`. ``cache=True`` keeps embeddings in ``dataset_dir/cache``.
    ``head_fitter`` is ``"seed"`` (the seed's torch recipe, :func:`fit_head`) or ``"logreg"``
    (:func:`fit_logreg_head`); ``concepts`` adds ImageNet concept scores to the head's input
    (logreg only) and ships the backbone's ImageNet classifier in the bundle.
    ``embed_backend="onnx"`` computes embeddings with the fp32 ONNX export (same numbers,
    much faster on a CPU than eager torch); ``"torch"`` runs the torch model.
    """
    t_start = time.time()
    set_threads(threads)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ds: Dataset = load_dataset(Path(dataset_dir))
    heads = dict(heads or {"album": None})
    head_specs = {h: list(labs) if labs else list(ds.labels) for h, labs in heads.items()}
    for h, labs in head_specs.items():
        bad = [lab for lab in labs if lab not in ds.labels]
        if bad:
            raise ValueError(f"head {h!r}: labels not in the dataset: {', '.join(bad)}")
        if len(labs) < 2:
            raise ValueError(f"head {h!r} needs at least two labels")
    default_head = default_head or next(iter(head_specs))
    if default_head not in head_specs:
        raise ValueError(f"default head {default_head!r} is not one of {list(head_specs)}")
    spec = spec or default_spec(arch)
    train_items, val_items, test_items = ds.split("train"), ds.split("val"), ds.split("test")
    for split_name, items in (("train", train_items), ("val", val_items)):
        if not items:
            raise ValueError(f"the dataset has no {split_name} photos")

    _log(progress, f"backbone {arch} at {spec.size}px")
    model = build_backbone(arch, weights, image_size=spec.size)
    finetune_info: dict[str, Any] | None = None
    if unfreeze > 0:
        ft_opts = {"epochs": max(1, epochs // 3), **(finetune_options or {})}
        ckpt = out.with_name(f"{out.name}.finetuned.pt")
        model, ft_hist = fine_tune(
            model, train_items, val_items, ds.labels, spec, unfreeze=unfreeze,
            augment=augment, strength=strength, checkpoint=ckpt, seed=seed, threads=threads,
            progress=progress, **ft_opts,
        )
        finetune_info = {"unfreeze": unfreeze, "checkpoint": str(ckpt), "history": ft_hist,
                         **{k: v for k, v in ft_opts.items() if k != "augment"}}
        cache = None  # embeddings of a freshly tuned backbone are never reused

    cache_dir = Path(dataset_dir) / "cache" if cache is True else (Path(cache) if cache else None)
    train_tf = TrainTransform(spec, augment, strength=strength, seed=seed)
    eval_tf = EvalTransform(spec)
    n_views = views + (1 if plain_view else 0)

    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.work.", dir=out.parent))
    try:
        # The fp32 export is shipped (or quantised) later and, with embed_backend="onnx",
        # computes the embeddings now: same numbers as torch, several times faster on a CPU.
        fp32 = work / "backbone-fp32.onnx"
        export_info = onnx_export.export_onnx(model, fp32, spec)
        runner: Backbone | OnnxBackbone = model
        if embed_backend == "onnx":
            runner = OnnxBackbone(fp32, arch=model.arch, weights_id=model.weights_id,
                                  embedding_dim=model.embedding_dim, threads=threads or 2)
        elif embed_backend != "torch":
            raise ValueError("embed_backend must be 'onnx' or 'torch'")

        def embed(items: Sequence[Item], tf: Any, v: int, plain: bool, desc: str) -> np.ndarray:
            return compute_embeddings(
                runner, [it.path for it in items], tf, views=v, plain_first=plain,
                cache=cache_dir, keys=[it.sha256 for it in items]
                if all(it.sha256 for it in items) else None,
                threads=threads, progress=progress, desc=desc,
            )

        x_train = embed(train_items, train_tf, n_views, plain_view, "train views")
        x_val = embed(val_items, eval_tf, 1, False, "val")[0]

        if head_fitter not in ("seed", "logreg"):
            raise ValueError("head_fitter must be 'seed' or 'logreg'")
        if concepts and head_fitter != "logreg":
            raise ValueError("concept features need head_fitter='logreg'")
        fc = None
        if concepts:  # shipped as float16 (half the size): fit with exactly what is served
            fc = tuple(a.astype(np.float16).astype(np.float32) for a in imagenet_classifier(model))
        fitter = fit_logreg_head if head_fitter == "logreg" else fit_head
        concept_opts = {"concepts": CONCEPTS, "concept_fc": fc} if concepts else {}
        fitted: dict[str, FitResult] = {}
        for h, labs in head_specs.items():
            tr_mask = np.array([it.label in labs for it in train_items])
            va_mask = np.array([it.label in labs for it in val_items])
            opts = {"epochs": epochs, "seed": seed, **(head_options or {})}
            res = fitter(
                x_train[:, tr_mask], [it.label for it in train_items if it.label in labs],
                x_val[va_mask], [it.label for it in val_items if it.label in labs], labs,
                name=h, checkpoint=work / f"head-{h}.pt", **concept_opts, **opts,
            )
            fitted[h] = res
            _log(progress, f"head {h}: best epoch {res.best_epoch}, val acc "
                           f"{res.val_metrics['accuracy']:.3f}, T={res.temperature:.3f}, "
                           f"threshold {res.threshold:.2f}")

        # -- export -----------------------------------------------------------------------
        val_batch = _preprocessed(val_items, spec)
        parity_fp32 = onnx_export.parity(model, fp32, val_batch[:32])
        speed = {"fp32": onnx_export.benchmark(fp32, val_batch[:8], threads=threads or 2)}
        precision, reason, agreement = "fp32", "quantisation disabled", None
        chosen, parity_int8 = fp32, None
        if quantize:
            calib = _preprocessed(_spread(train_items, calibration_size), spec)
            int8 = onnx_export.quantize_int8(fp32, work / "backbone-int8.onnx", calib)
            # each head is judged on the val photos of its own labels
            agreement = {
                h: onnx_export.head_agreement(
                    fp32, int8,
                    val_batch[np.array([it.label in r.head.labels for it in val_items])],
                    r.head)
                for h, r in fitted.items()
            }
            parity_int8 = onnx_export.parity(model, int8, val_batch[:32])
            speed["int8"] = onnx_export.benchmark(int8, val_batch[:8], threads=threads or 2)
            worst = min(agreement.values())
            if worst >= min_agreement:
                precision, chosen = "int8", int8
                reason = f"int8 heads agree with fp32 on {worst:.1%} of val photos"
            else:
                reason = (f"int8 kept fp32: heads agree on only {worst:.1%} of val photos "
                          f"(< {min_agreement:.0%})")
            _log(progress, f"int8 head agreement {agreement}; shipping {precision}")
        backbone_entry = {
            "arch": arch,
            "precision": precision,
            "precision_reason": reason,
            "embedding_dim": model.embedding_dim,
            **export_info,
            "parity": parity_fp32 if precision == "fp32" else parity_int8,
            "parity_fp32": parity_fp32,
            "int8_head_agreement": agreement,
            "weights": model.weights_id,
            "finetuned": bool(finetune_info),
        }

        # -- evaluate with the exported engine ----------------------------------------------
        heads_out = [r.head for r in fitted.values()]
        name = name or out.name
        fc_extra: dict[str, Path] = {}
        if fc is not None:
            np.savez_compressed(work / IMAGENET_FC, weight=fc[0].astype(np.float16),
                                bias=fc[1].astype(np.float16))
            fc_extra[IMAGENET_FC] = work / IMAGENET_FC
        stage = write_bundle(
            work / "stage", backbone_onnx=chosen, backbone=backbone_entry, preprocess=spec,
            heads=heads_out, default_head=default_head, metrics={}, card="", name=name,
            extra_files=fc_extra,
        )
        engine = Engine(stage, threads=threads or 2, blas_threads=None)
        head_metrics: dict[str, dict[str, Any]] = {}
        extra_files: dict[str, Path] = dict(fc_extra)
        for h, r in fitted.items():
            entry = r.summary()
            if test_items:
                ev = evaluate_engine(engine, ds.subset(r.head.labels), h, split="test",
                                     progress=False)
                entry["test"] = ev["metrics"]
                entry["test_mistakes"] = ev["mistakes"][:50]
                r.head.metrics.update({"test_accuracy": ev["metrics"]["accuracy"],
                                       "test_macro_f1": ev["metrics"]["macro_f1"],
                                       "test_ece": ev["metrics"]["ece"]})
                cm_png = plot_confusion(ev["metrics"]["confusion"], r.head.labels,
                                        work / f"confusion_{h}.png", title=f"{h} (test)")
                extra_files[f"reports/confusion_{h}.png"] = cm_png
                _log(progress, format_report(ev["metrics"], title=f"head {h}: test split"))
            curves = plot_curves(r.history, work / f"curves_{h}.png", title=f"head {h}")
            extra_files[f"reports/curves_{h}.png"] = curves
            head_metrics[h] = entry
        if finetune_info:
            extra_files["reports/curves_finetune.png"] = plot_curves(
                finetune_info["history"], work / "curves_finetune.png", title="fine-tuning")

        training = {
            "views": views, "plain_view": plain_view, "strength": strength,
            "augment": asdict(augment or AugmentConfig()), "epochs": epochs,
            "head_options": head_options or {}, "head_fitter": head_fitter,
            "concepts": list(CONCEPTS) if concepts else None, "unfreeze": unfreeze, "seed": seed,
        }
        metrics = {
            "format": "smartalbum-metrics/1",
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "dataset": {"path": str(ds.root), "source": str(ds.source) if ds.source else None,
                        "counts": ds.counts()},
            "heads": head_metrics,
            "backbone": {**backbone_entry, "speed_ms_per_photo": speed,
                         "parity_int8": parity_int8},
            "training": training,
            "finetune": finetune_info,
            "train_seconds": round(time.time() - t_start, 1),
        }
        card = build_card(
            name=name, arch=arch, spec=spec.model_dump(), backbone=backbone_entry,
            heads=head_metrics, source=ds.source,
            training={k: v for k, v in training.items() if k != "augment"}, extra=card_extra,
        )
        bundle = write_bundle(
            out, backbone_onnx=chosen, backbone=backbone_entry, preprocess=spec,
            heads=heads_out, default_head=default_head, metrics=_jsonable(metrics), card=card,
            name=name, extra_files=extra_files,
        )
        from smartalbum.categories.explain import write_features_model_if_possible

        write_features_model_if_possible(out)  # heat-maps (categories/explain.py)
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    _log(progress, f"bundle written to {out} ({precision}, {time.time() - t_start:.0f}s)")
    return bundle


def _jsonable(obj: Any) -> Any:
    """Metrics with numpy scalars and paths turned into plain JSON types."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
