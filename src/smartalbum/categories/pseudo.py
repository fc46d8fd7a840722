"""Semi-supervised growth: pseudo-label confident photos, keep it only where it helps.

The head trained on the user's labels (minus the held-back part) labels the unlabelled
catalog; photos it is very sure of become extra training rows (weighted below the user's
own labels). A second head is fitted with them, and both are compared on the held-back
labels: the pseudo-labelled head becomes a new version only when it is *strictly* better
(balanced accuracy, then log loss); otherwise nothing changes and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from smartalbum.categories.data import training_data, user_labels
from smartalbum.categories.errors import NotEnoughExamples
from smartalbum.categories.fit import PSEUDO_WEIGHT, Labelled, fit_category_head, scores
from smartalbum.categories.retrain import evaluate, split
from smartalbum.categories.teach import Teacher
from smartalbum.library.schema_teach import Category

HIGH, LOW = 0.9, 0.05
MAX_PSEUDO = 500


@dataclass
class PseudoReport:
    category: str
    kept: bool
    reason: str
    pseudo_positives: int = 0
    pseudo_negatives: int = 0
    without: dict[str, Any] = field(default_factory=dict)
    with_pseudo: dict[str, Any] = field(default_factory=dict)
    version_after: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _strictly_better(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a["balanced_accuracy"] != b["balanced_accuracy"]:
        return a["balanced_accuracy"] > b["balanced_accuracy"]
    return a["log_loss"] < b["log_loss"] - 1e-4


def grow(teacher: Teacher, session: Session, category: Category, *, seed: int = 0) -> PseudoReport:
    matrix = teacher.matrix(session)
    labels = user_labels(session, category, matrix)
    train, held = split(labels)
    report = PseudoReport(category.name, False, "")
    if len(held) == 0 or len(set(held.y.tolist())) < 2:
        report.reason = "not kept: needs held-back labels of both kinds to measure the effect"
        return report
    base_data = training_data(matrix, train, exclude=labels.photo_ids, seed=seed)
    try:
        base = fit_category_head(category.name, base_data, seed=seed)
    except NotEnoughExamples as exc:
        report.reason = str(exc)
        return report
    unlabelled = np.flatnonzero(~np.isin(matrix.photo_ids, labels.photo_ids))
    s = scores(base, matrix.vectors[unlabelled])
    pos = unlabelled[s >= max(HIGH, base.threshold)]
    neg = unlabelled[s <= LOW]
    rng = np.random.default_rng(seed)
    if len(pos) > MAX_PSEUDO:
        pos = rng.choice(pos, MAX_PSEUDO, replace=False)
    if len(neg) > MAX_PSEUDO:
        neg = rng.choice(neg, MAX_PSEUDO, replace=False)
    report.pseudo_positives, report.pseudo_negatives = len(pos), len(neg)
    if len(pos) == 0:
        report.reason = "not kept: no photo confident enough to pseudo-label"
        return report
    extra = Labelled.build(matrix.vectors[pos], matrix.vectors[neg])
    extra.w[:] = PSEUDO_WEIGHT
    grown = fit_category_head(category.name, base_data.extend(extra), seed=seed)
    report.without, report.with_pseudo = evaluate(base, held), evaluate(grown, held)
    if not _strictly_better(report.with_pseudo, report.without):
        report.reason = "not kept: pseudo-labels did not help on the held-back labels"
        return report
    full = training_data(matrix, labels, seed=seed).extend(extra)
    final = fit_category_head(category.name, full, seed=seed)
    row = teacher.save_version(
        session,
        category,
        final,
        reason="pseudo",
        pseudo={
            "positives": len(pos),
            "negatives": len(neg),
            "without": report.without,
            "with": report.with_pseudo,
        },
    )
    teacher.resort(session, category)
    report.kept, report.version_after = True, row.version
    report.reason = "kept: better on the held-back labels"
    return report
