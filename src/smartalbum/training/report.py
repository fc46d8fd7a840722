"""Metrics, plots and terminal tables for a classifier's results.

Torch-free and numpy-only at import (matplotlib is imported inside the plot functions),
so ``smartalbum evaluate`` works in a serving-only install. The metrics are written out
by hand because they are few and small, and so that a hand-checked confusion matrix in the
tests pins down exactly what each number means.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from smartalbum.model.fitting import OUT_OF_SCOPE

ECE_BINS = 15


def _as_indices(y: Sequence[Any] | np.ndarray, labels: Sequence[str]) -> np.ndarray:
    arr = np.asarray(y)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    index = {lab: i for i, lab in enumerate(labels)}
    try:
        return np.asarray([index[str(v)] for v in arr], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"label {exc.args[0]!r} is not one of {list(labels)}") from None


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    """Rows: true class; columns: predicted class."""
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def expected_calibration_error(
    y_true: np.ndarray, y_prob: np.ndarray, bins: int = ECE_BINS
) -> float:
    """ECE: the support-weighted gap between confidence and accuracy over confidence bins."""
    if len(y_true) == 0:
        return 0.0
    conf = y_prob.max(axis=1)
    correct = (y_prob.argmax(axis=1) == y_true).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # bin i holds (edges[i], edges[i+1]]; a confidence of exactly 0 goes to the first bin
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def classification_metrics(
    y_true: Sequence[Any] | np.ndarray,
    y_prob: np.ndarray,
    labels: Sequence[str],
    *,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1/support, macro-F1, ECE and the confusion matrix.

    ``y_true`` holds label indices or label names; ``y_prob`` is N x len(labels). With a
    ``threshold`` the result also says how many predictions would be accepted (confidence
    >= threshold, the rest go to review as ``uncertain``) and how accurate those are.
    """
    labels = list(labels)
    y_prob = np.asarray(y_prob, dtype=np.float64)
    if y_prob.ndim != 2 or y_prob.shape[1] != len(labels):
        raise ValueError(f"y_prob must be N x {len(labels)}, got {y_prob.shape}")
    t = _as_indices(y_true, labels)
    if len(t) != len(y_prob):
        raise ValueError("y_true and y_prob have different lengths")
    pred = y_prob.argmax(axis=1) if len(y_prob) else np.zeros(0, dtype=np.int64)
    cm = confusion_matrix(t, pred, len(labels))
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    present = support > 0
    out: dict[str, Any] = {
        "n": int(len(t)),
        "labels": labels,
        "accuracy": float(tp.sum() / len(t)) if len(t) else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "ece": expected_calibration_error(t, y_prob),
        "per_class": {
            lab: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, lab in enumerate(labels)
        },
        "confusion": cm.tolist(),
    }
    if threshold is not None:
        conf = y_prob.max(axis=1) if len(y_prob) else np.zeros(0)
        accepted = conf >= threshold
        out["threshold"] = float(threshold)
        out["coverage"] = float(accepted.mean()) if len(t) else 0.0
        out["accepted_accuracy"] = (
            float((pred[accepted] == t[accepted]).mean()) if accepted.any() else 0.0
        )
    return out


def _review_figures(right: np.ndarray, sure: np.ndarray) -> dict[str, float]:
    """Share sent to review and accuracy among the sure ones, for one group of photos."""
    n = len(right)
    return {
        "review_share": float((~sure).mean()) if n else 0.0,
        "sure_accuracy": float(right[sure].mean()) if sure.any() else 0.0,
    }


def review_report(
    y_true: Sequence[str],
    y_prob: np.ndarray,
    labels: Sequence[str],
    *,
    threshold: float,
    sources: Sequence[str] | None = None,
    out_of_scope: Sequence[str] = OUT_OF_SCOPE,
) -> dict[str, Any]:
    """What a user of the head would see on labelled photos, overall, per class, per source.

    ``y_true`` holds label names; photos labelled with an ``out_of_scope`` name (``none``:
    belongs to no class) are not scored for accuracy, only for how many go to review, which
    is where they should land. The in-scope photos get :func:`classification_metrics` plus,
    overall and per class, ``review_share`` (confidence under ``threshold``: the photo is
    marked uncertain) and ``sure_accuracy`` (accuracy among the others). ``per_source``
    (when ``sources`` is given) repeats accuracy, review share and sure accuracy for each
    source, so a model that only works on the sources it was fitted on shows.
    """
    labels = list(labels)
    y = np.asarray([str(v) for v in y_true])
    y_prob = np.asarray(y_prob, dtype=np.float64)
    if len(y) != len(y_prob):
        raise ValueError("y_true and y_prob have different lengths")
    src = np.asarray(list(sources) if sources is not None else [""] * len(y))
    if len(src) != len(y):
        raise ValueError("sources and y_true have different lengths")
    outside = np.isin(y, list(out_of_scope))
    inside = ~outside
    conf = y_prob.max(axis=1) if len(y_prob) else np.zeros(0)
    sure = conf >= threshold
    index = {lab: i for i, lab in enumerate(labels)}
    truth = np.asarray([index.get(v, -1) for v in y])
    right = (y_prob.argmax(axis=1) == truth) if len(y_prob) else np.zeros(0, bool)
    metrics = classification_metrics(
        y[inside], y_prob[inside].reshape(-1, len(labels)), labels, threshold=threshold
    )
    metrics.update(_review_figures(right[inside], sure[inside]))
    for lab in labels:
        m = inside & (y == lab)
        metrics["per_class"][lab].update(_review_figures(right[m], sure[m]))
    metrics["none"] = {
        "n": int(outside.sum()),
        "review_share": _review_figures(right[outside], sure[outside])["review_share"],
    }
    if sources is not None:
        per_source: dict[str, dict[str, Any]] = {}
        for s in sorted(set(src.tolist())):
            m_in, m_out = inside & (src == s), outside & (src == s)
            entry: dict[str, Any] = {
                "n": int(m_in.sum()),
                "accuracy": float(right[m_in].mean()) if m_in.any() else 0.0,
            }
            entry.update(_review_figures(right[m_in], sure[m_in]))
            entry["none_n"] = int(m_out.sum())
            entry["none_review_share"] = _review_figures(right[m_out], sure[m_out])["review_share"]
            per_source[s] = entry
        metrics["per_source"] = per_source
    return metrics


def format_review(m: dict[str, Any]) -> str:
    """Terminal tables of :func:`review_report`'s review figures: per class, per source."""
    lines = [
        f"sent to review  {m['review_share']:.1%} of in-scope photos; "
        f"accuracy among the sure ones {m['sure_accuracy']:.3f}",
        f"none photos     {m['none']['n']} photos, {m['none']['review_share']:.1%} sent to review",
        "",
        f"{'class':<14}  {'recall':>6}  {'f1':>6}  {'review':>6}  {'sure acc':>8}  {'n':>4}",
    ]
    for lab in m["labels"]:
        c = m["per_class"][lab]
        lines.append(
            f"{lab:<14}  {c['recall']:>6.3f}  {c['f1']:>6.3f}  {c['review_share']:>6.1%}"
            f"  {c['sure_accuracy']:>8.3f}  {c['support']:>4d}"
        )
    if m.get("per_source"):
        w = max(6, *(len(s) for s in m["per_source"]))
        lines += [
            "",
            f"{'source':<{w}}  {'n':>4}  {'acc':>6}  {'review':>6}  {'sure acc':>8}"
            f"  {'none':>4}  {'none rev':>8}",
        ]
        for s, e in m["per_source"].items():
            lines.append(
                f"{s:<{w}}  {e['n']:>4d}  {e['accuracy']:>6.3f}  {e['review_share']:>6.1%}"
                f"  {e['sure_accuracy']:>8.3f}  {e['none_n']:>4d}"
                f"  {e['none_review_share']:>8.1%}"
            )
    return "\n".join(lines)


def format_report(m: dict[str, Any], title: str | None = None) -> str:
    """A readable terminal table: per-class P/R/F1/support, summary lines, confusion matrix."""
    labels = list(m["labels"])
    w = max(12, *(len(lab) for lab in labels)) if labels else 12
    lines = []
    if title:
        lines += [title, "=" * len(title)]
    lines.append(f"{'class':<{w}}  {'precision':>9}  {'recall':>6}  {'f1':>6}  {'support':>7}")
    for lab in labels:
        c = m["per_class"][lab]
        lines.append(
            f"{lab:<{w}}  {c['precision']:>9.3f}  {c['recall']:>6.3f}  {c['f1']:>6.3f}  "
            f"{c['support']:>7d}"
        )
    lines.append("")
    lines.append(f"accuracy   {m['accuracy']:.3f}  ({m['n']} photos)")
    lines.append(f"macro-F1   {m['macro_f1']:.3f}")
    lines.append(f"ECE        {m['ece']:.3f}")
    if "coverage" in m:
        lines.append(
            f"threshold  {m['threshold']:.2f}: {m['coverage']:.1%} accepted, "
            f"{m['accepted_accuracy']:.3f} accurate"
        )
    lines.append("")
    lines.append("confusion (rows: true, columns: predicted)")
    cw = max(5, *(len(lab) for lab in labels)) if labels else 5
    lines.append(" " * w + "  " + " ".join(f"{lab:>{cw}}" for lab in labels))
    for lab, row in zip(labels, m["confusion"], strict=True):
        lines.append(f"{lab:<{w}}  " + " ".join(f"{v:>{cw}d}" for v in row))
    return "\n".join(lines)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(
    confusion: Sequence[Sequence[int]] | np.ndarray,
    labels: Sequence[str],
    path: Path,
    *,
    title: str = "Confusion matrix",
    normalize: bool = True,
) -> Path:
    """Save a confusion-matrix heat map (row-normalised colours, counts written in cells)."""
    plt = _pyplot()
    cm = np.asarray(confusion, dtype=np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    shown = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0) if normalize else cm
    n = len(labels)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * n, 1.0 + 0.8 * n), dpi=100)
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                str(int(cm[i, j])),
                ha="center",
                va="center",
                color="white" if shown[i, j] > 0.5 * (shown.max() or 1) else "black",
            )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_curves(history: Sequence[dict[str, float]], path: Path, *, title: str = "") -> Path:
    """Save loss and accuracy per epoch (train and val) side by side."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5), dpi=100)
    for key, style in (("train", "-o"), ("val", "-s")):
        ax1.plot(epochs, [h[f"{key}_loss"] for h in history], style, label=key, markersize=3)
        ax2.plot(epochs, [h[f"{key}_acc"] for h in history], style, label=key, markersize=3)
    best = [h["epoch"] for h in history if h.get("best")]
    for ax in (ax1, ax2):
        if best:
            ax.axvline(best[-1], color="grey", linestyle=":", label="best")
        ax.set_xlabel("epoch")
        ax.legend()
        ax.grid(alpha=0.3)
    ax1.set_ylabel("loss")
    ax2.set_ylabel("accuracy")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
