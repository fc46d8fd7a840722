"""Learning from corrections: refit a category, keep the new head only if it is not worse.

The user's labels are split (stably, by photo id; data.holdout_mask) into a part to train
on and a held-back part. A candidate head is fitted on the training part (+ background)
and compared with the active head on the held-back part: balanced accuracy first, log
loss to break ties. The candidate is refused when it is worse; when accepted, the head
stored as the new version is refitted on *all* labels (the comparison decided the method
is sound; the held-back labels are too precious to leave out of a few-shot head). The old
versions stay in the catalog and can be restored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from smartalbum.categories import store
from smartalbum.categories.data import UserLabels, holdout_mask, training_data, user_labels
from smartalbum.categories.errors import NotEnoughExamples
from smartalbum.categories.fit import binary_metrics, fit_category_head, scores
from smartalbum.categories.teach import Progress, Teacher
from smartalbum.library.schema_teach import Category
from smartalbum.model.heads import Head

FitFn = Callable[..., Head]
TOLERANCE = 1e-9


@dataclass
class RetrainReport:
    category: str
    accepted: bool
    reason: str
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    version_before: int | None = None
    version_after: int | None = None
    held_back: int = 0
    trained_on: int = 0
    members: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def evaluate(head: Head | None, held: UserLabels) -> dict[str, Any]:
    """Binary metrics of ``head`` on held-back labels (empty without head or labels)."""
    if head is None or len(held) == 0:
        return {}
    return binary_metrics(scores(head, held.x), held.y, head.threshold)


def at_least_as_good(after: dict[str, Any], before: dict[str, Any]) -> bool:
    """Balanced accuracy not lower; on a tie, log loss not (meaningfully) higher."""
    if not before:
        return True
    a, b = after["balanced_accuracy"], before["balanced_accuracy"]
    if a > b + TOLERANCE:
        return True
    if a < b - TOLERANCE:
        return False
    return after["log_loss"] <= before["log_loss"] + 0.05


def split(labels: UserLabels) -> tuple[UserLabels, UserLabels]:
    """(train, held back); the held-back part is dropped when it would leave the training
    part without two positives."""
    mask = holdout_mask(labels.photo_ids)
    train = labels.subset(~mask)
    if int((train.y == 1).sum()) < 2:
        return labels, labels.subset(np.zeros(len(labels), bool))
    return train, labels.subset(mask)


def retrain_category(
    teacher: Teacher,
    session: Session,
    category: Category,
    *,
    fit: FitFn = fit_category_head,
    seed: int = 0,
) -> RetrainReport:
    """Retrain one category from its labels (examples + corrections); see the module doc."""
    matrix = teacher.matrix(session)
    labels = user_labels(session, category, matrix)
    active = store.active_version(session, category)
    old = store.head_of(active) if active is not None else None
    train, held = split(labels)
    report = RetrainReport(
        category.name,
        False,
        "",
        version_before=active.version if active else None,
        held_back=len(held),
        trained_on=len(train),
    )
    try:
        train_data = training_data(matrix, train, exclude=labels.photo_ids, seed=seed)
        candidate = fit(category.name, train_data, seed=seed)
    except NotEnoughExamples as exc:
        report.reason = str(exc)
        return report
    report.before = evaluate(old, held)
    report.after = evaluate(candidate, held)
    if not at_least_as_good(report.after, report.before):
        report.reason = "refused: worse than the active head on the held-back labels"
        return report
    final = fit(category.name, training_data(matrix, labels, seed=seed), seed=seed)
    row = teacher.save_version(
        session,
        category,
        final,
        reason="retrain",
        held_back={"before": report.before, "after": report.after, "n": len(held)},
    )
    report.accepted = True
    report.version_after = row.version
    report.reason = (
        "accepted: at least as good on the held-back labels"
        if len(held)
        else "accepted: no held-back labels to compare on yet"
    )
    report.members = teacher.resort(session, category).members
    return report


def retrain(
    teacher: Teacher,
    names: list[str] | None = None,
    *,
    fit: FitFn = fit_category_head,
    progress: Progress | None = None,
) -> list[RetrainReport]:
    """Retrain the named categories (default: all), one transaction each."""
    from smartalbum.library.db import session_scope

    with session_scope(teacher.factory) as s:
        todo = names or [c.name for c in store.all_categories(s)]
    reports = []
    for i, name in enumerate(todo):
        with session_scope(teacher.factory) as s:
            reports.append(retrain_category(teacher, s, store.get_category(s, name), fit=fit))
        if progress:
            progress(i + 1, len(todo), name)
    return reports
