"""Learning from corrections for the bundle's own heads (``album6``, ``seed3``).

Every correction in the catalog whose label is one of a head's labels is a labelled
example. Retraining fits a new head of the same shape (same features: L2-normalised
embedding plus ImageNet concept scores) on the bundle's shipped training embeddings plus
the user's corrected photos, the corrections weighted up because they are the user's own
kind of photo. A quarter of the corrections (chosen by photo id, so the same ones every
time) is held back: the new head replaces the active one only when it is at least as
accurate on them, and every version is kept (model/user_heads.py) so any can be restored.

numpy/scipy only: retraining works in a serving-only install.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from smartalbum.categories.fit import single_thread_blas
from smartalbum.library.catalog import latest_corrections, load_embeddings, model_key
from smartalbum.library.schema import Correction
from smartalbum.model import train_embeddings, user_heads
from smartalbum.model.engine import Engine
from smartalbum.model.heads import Head
from smartalbum.model.user_heads import HeadStore

#: Fewer corrections than this for a head: nothing to learn from yet.
MIN_CORRECTIONS = 4
#: One corrected photo counts as much as this many shipped training photos.
USER_WEIGHT = 5.0
#: L2 penalty (sklearn's C = 1, the shipped heads' setting).
L2 = 1.0


@dataclass
class HeadRetrainReport:
    """What one retrain did, for the CLI, the API and the job's result."""

    head: str
    accepted: bool
    reason: str
    corrections: int = 0
    held_back: int = 0
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"category": f"{self.head} (built-in head)", **asdict(self)}


def _held(photo_id: int) -> bool:
    return hashlib.sha256(str(photo_id).encode()).digest()[0] % 4 == 0


def evaluate(head: Head, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Accuracy and balanced accuracy of ``head`` on embeddings ``x`` with label indices ``y``."""
    if not len(y):
        return {}
    pred = head.probabilities(x).argmax(axis=1)
    recalls = [float((pred[y == k] == k).mean()) for k in np.unique(y)]
    return {
        "accuracy": round(float((pred == y).mean()), 4),
        "balanced_accuracy": round(float(np.mean(recalls)), 4),
        "n": int(len(y)),
    }


def fit_softmax(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted multinomial logistic regression with an L2 penalty (L-BFGS); class-balanced
    like the shipped heads. Returns (W: D x k, b: k)."""
    x = x.astype(np.float64)
    d = x.shape[1]
    counts = np.array([w[y == c].sum() for c in range(k)])
    present = counts > 0
    sw = w * np.where(present[y], w.sum() / (present.sum() * counts[y].clip(min=1e-12)), 0.0)
    onehot = np.eye(k)[y]

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        wm, b = params[: d * k].reshape(d, k), params[d * k :]
        z = x @ wm + b
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        value = float(-(sw * (onehot * logp).sum(axis=1)).sum() + 0.5 * L2 * (wm * wm).sum())
        g = (np.exp(logp) - onehot) * sw[:, None]
        grad = np.concatenate([(x.T @ g + L2 * wm).ravel(), g.sum(axis=0)])
        return value, grad

    res = minimize(loss, np.zeros(d * k + k), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    wm, b = res.x[: d * k].reshape(d, k), res.x[d * k :]
    b = np.where(present, b, -1e4)  # a label with no example is never chosen
    return wm.astype(np.float32), b.astype(np.float32)


def fit_like(template: Head, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Head:
    """A new head with ``template``'s labels, features and calibration, fitted on (x, y, w)."""
    head = Head(
        name=template.name,
        labels=list(template.labels),
        weights=[np.zeros((template.weights[0].shape[0], len(template.labels)), np.float32)],
        biases=[np.zeros(len(template.labels), np.float32)],
        l2_normalize=template.l2_normalize,
        threshold=template.threshold,
        concepts=template.concepts,
        concept_scale=template.concept_scale,
        concept_fc=template.concept_fc,
        description=template.description,
    )
    with single_thread_blas():
        wm, b = fit_softmax(head.features(x), y, w, len(head.labels))
    head.weights, head.biases = [wm], [b]
    return head


def user_examples(
    session: Session, engine: Engine, head: Head
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(photo ids, embeddings, label indices) of the corrected photos whose latest label is
    one of ``head``'s labels and whose embedding for this backbone is stored."""
    ids = list(session.scalars(select(Correction.photo_id).distinct()))
    labels = latest_corrections(session, ids)
    index = {label: i for i, label in enumerate(head.labels)}
    wanted = sorted(pid for pid, label in labels.items() if label in index)
    vectors = load_embeddings(session, wanted, model_key(engine, head.name).backbone_version)
    kept = [pid for pid in wanted if pid in vectors]
    if not kept:
        return (
            np.zeros(0, np.int64),
            np.zeros((0, engine.head(head.name).input_dim)),
            np.zeros(0, int),
        )
    return (
        np.array(kept),
        np.stack([vectors[p] for p in kept]),
        np.array([index[labels[p]] for p in kept]),
    )


def retrain_head(
    factory: sessionmaker[Session], engine: Engine, root: HeadStore | Path, name: str
) -> HeadRetrainReport:
    """Retrain one built-in head from the catalog's corrections (see the module docstring)."""
    bundle = engine.bundle
    current = engine.head(name)
    with factory() as session:
        ids, ux, uy = user_examples(session, engine, current)
    if len(ids) < MIN_CORRECTIONS:
        return HeadRetrainReport(
            name,
            False,
            f"skipped: {len(ids)} correction(s), at least {MIN_CORRECTIONS} needed",
            corrections=len(ids),
        )
    base = train_embeddings.load(bundle)
    if base is None:
        return HeadRetrainReport(
            name,
            False,
            f"skipped: bundle {bundle.name!r} ships no training embeddings",
            corrections=len(ids),
        )
    held = np.array([_held(int(p)) for p in ids])
    if not held.any():
        held[-1] = True
    index = {label: i for i, label in enumerate(current.labels)}
    bx, blabels = base
    keep = np.array([label in index for label in blabels])
    x = np.concatenate([bx[keep], ux[~held]])
    y = np.concatenate([np.array([index[label] for label in blabels[keep]], int), uy[~held]])
    w = np.concatenate([np.ones(int(keep.sum())), np.full(int((~held).sum()), USER_WEIGHT)])
    new = fit_like(current, x, y, w)
    before, after = evaluate(current, ux[held], uy[held]), evaluate(new, ux[held], uy[held])
    accepted = after["accuracy"] >= before["accuracy"]
    report = HeadRetrainReport(
        name,
        accepted,
        "accepted: at least as good on the held-back corrections"
        if accepted
        else "refused: worse than the active head on the held-back corrections",
        corrections=len(ids),
        held_back=int(held.sum()),
        before=before,
        after=after,
    )
    report.version = user_heads.save(root, bundle, new, report.to_dict(), activate=accepted)
    if engine.user_heads is not None:
        engine.user_heads.refresh(force=True)
        engine.version = bundle.version
    return report


def retrain_heads(
    factory: sessionmaker[Session],
    engine: Engine,
    root: HeadStore | Path,
    names: list[str] | None = None,
) -> list[HeadRetrainReport]:
    """Retrain the named built-in heads (default: all of the bundle's)."""
    todo = names or list(
        engine.user_heads.original if engine.user_heads is not None else engine.bundle.heads
    )
    return [retrain_head(factory, engine, root, name) for name in todo]
