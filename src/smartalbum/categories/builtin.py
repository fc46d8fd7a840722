"""Learning from corrections for the bundle's own heads (``album6``, ``seed3``).

Every correction in the catalog whose label is one of a head's labels is a labelled
example. Retraining fits a new head of the same shape (same features as the shipped head)
by the shipped recipe (model/fitting.py) on the bundle's shipped training embeddings plus
the user's corrected photos, the corrections weighted up because they are the user's own
kind of photo, and calibrates it like the shipped head (see :func:`refit`). A quarter of
the corrections (chosen by photo id, so the same ones every time) is held back: the new head replaces the active one only when it is at least as
accurate on them, and every version is kept (model/user_heads.py) so any can be restored.

numpy/scipy only: retraining works in a serving-only install.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from smartalbum.categories.fit import single_thread_blas
from smartalbum.library.catalog import latest_corrections, load_embeddings, model_key
from smartalbum.library.schema import Correction
from smartalbum.model import train_embeddings, user_heads
from smartalbum.model.engine import Engine
from smartalbum.model.fitting import (
    RECIPE,
    TEMPERATURE_BOUNDS,
    as_head_labels,
    calibrate,
    fit_soft_head,
)
from smartalbum.model.heads import Head, softmax
from smartalbum.model.train_embeddings import TrainingEmbeddings
from smartalbum.model.user_heads import HeadStore

#: Fewer corrections than this for a head: nothing to learn from yet.
MIN_CORRECTIONS = 4
#: One corrected photo counts as much as this many shipped training photos.
USER_WEIGHT = 5.0


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


def refit(
    template: Head,
    shipped: TrainingEmbeddings,
    user_x: np.ndarray,
    user_labels: np.ndarray,
) -> Head:
    """A new head with ``template``'s labels and features, fitted by the shipped recipe
    (model/fitting.py: classes and sources balanced, ``none`` photos towards a flat answer)
    on the shipped training embeddings plus the user's photos (a source of their own, each
    weighing :data:`USER_WEIGHT`), then calibrated like the shipped head.

    Calibration: on the bundle's validation embeddings when it ships them (the photos the
    shipped head's temperature and threshold were chosen on); otherwise the temperature
    that gives the new head the template's mean confidence on the training photos, and the
    template's threshold. Before this, a refit kept temperature 1 where the shipped head
    had 0.3: measured on wild val, 72 % of photos went to review instead of 16 %.
    """
    base = as_head_labels(shipped.labels, template.labels)
    x = np.concatenate([shipped.x, user_x]) if len(user_x) else shipped.x
    labels = np.concatenate([base, np.asarray(user_labels, dtype=str)])
    sources = np.concatenate([shipped.sources, np.full(len(user_x), "user")])
    rows = np.concatenate([np.ones(len(shipped.x)), np.full(len(user_x), USER_WEIGHT)])
    with single_thread_blas():
        head = fit_soft_head(
            template.name,
            template.labels,
            x,
            labels,
            sources,
            concepts=template.concepts,
            concept_fc=template.concept_fc,
            concept_scale=template.concept_scale,
            description=template.description,
            row_weights=rows,
            l2_normalize=template.l2_normalize,
            **RECIPE,
        )
        if np.isin(shipped.val_labels, template.labels).sum() >= len(template.labels):
            return calibrate(head, shipped.val_x, shipped.val_labels)
        in_scope = np.isin(labels, template.labels)
        head.temperature = match_confidence(head, template, x[in_scope])
        head.threshold = template.threshold
    return head


def match_confidence(head: Head, template: Head, x: np.ndarray) -> float:
    """The temperature at which ``head``'s mean confidence on ``x`` is ``template``'s: with
    no validation photos to calibrate on, the refit keeps the shipped head's scale, so its
    threshold still means what it meant."""
    if not len(x):
        return template.temperature
    target = float(template.probabilities(x).max(axis=1).mean())
    logits = head.logits(x)
    grid = np.geomspace(*TEMPERATURE_BOUNDS, 200)
    mean_conf = [float(softmax(logits / t).max(axis=1).mean()) for t in grid]
    return float(grid[int(np.argmin(np.abs(np.array(mean_conf) - target)))])


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
    names = np.array(current.labels)[uy[~held]]
    new = refit(current, base, ux[~held], names)
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
