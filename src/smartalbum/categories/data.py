"""Training data of a category, read from the catalog: the user's labels and a background.

Labels are the category's examples (created, corrected, imported) plus every catalog
correction whose label is the category's name: a correction is a labelled example, so
labelling a photo "sunsets" in the review page teaches the "sunsets" category.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from smartalbum.categories import store
from smartalbum.categories.fit import Labelled
from smartalbum.categories.matrix import EmbeddingMatrix
from smartalbum.library.catalog import latest_corrections
from smartalbum.library.schema import Correction
from smartalbum.library.schema_teach import Category
from smartalbum.model.heads import l2_normalize

#: Background photos drawn from the catalog as presumed negatives (the logistic head).
BACKGROUND = 400
#: Unlabelled catalog photos the prototype method looks at (its centre and its cut):
#: enough for a 1 % category to show, few enough to score in milliseconds.
UNLABELLED_SAMPLE = 5000


@dataclass
class UserLabels:
    """Labelled photos that have an embedding: ids, embeddings, 0/1 labels."""

    photo_ids: np.ndarray
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.photo_ids)

    def subset(self, mask: np.ndarray) -> UserLabels:
        return UserLabels(self.photo_ids[mask], self.x[mask], self.y[mask])

    @property
    def positives(self) -> np.ndarray:
        return self.x[self.y == 1]

    @property
    def negatives(self) -> np.ndarray:
        return self.x[self.y == 0]


def label_map(session: Session, category: Category) -> dict[int, bool]:
    """photo id -> in the category? Explicit examples win over catalog corrections."""
    labels: dict[int, bool] = {}
    corrected = list(
        session.scalars(select(Correction.photo_id).where(Correction.label == category.name))
    )
    if corrected:
        latest = latest_corrections(session, sorted(set(corrected)))
        labels.update({pid: True for pid, lab in latest.items() if lab == category.name})
    labels.update(store.examples(session, category))
    return labels


def user_labels(session: Session, category: Category, matrix: EmbeddingMatrix) -> UserLabels:
    labels = label_map(session, category)
    ids = sorted(labels)
    found, x = matrix.rows(ids)
    y = np.array([1 if labels[int(i)] else 0 for i in found], dtype=np.int64)
    return UserLabels(found, x, y)


def background(
    matrix: EmbeddingMatrix,
    exclude: np.ndarray,
    n: int = BACKGROUND,
    seed: int = 0,
    positives: np.ndarray | None = None,
) -> np.ndarray:
    """Up to ``n`` random catalog embeddings outside ``exclude`` (the labelled photos),
    used as presumed negatives.

    The catalog holds unlabelled photos of the category too; treating them as negatives
    teaches the head to cut its own category in half. So, as in positive-unlabelled
    learning, photos that look at least as much like the examples as the examples look
    like each other are left out: cosine similarity to the examples' mean above the 10th
    percentile of each example's similarity to the mean of the others, or above halfway
    between the examples' median similarity and a typical photo's. The rest are *reliable*
    negatives.
    """
    if len(matrix) == 0:
        return np.zeros((0, 0), np.float32)
    keep = np.flatnonzero(~np.isin(matrix.photo_ids, exclude))
    rng = np.random.default_rng(seed)
    if positives is not None and len(positives) >= 2 and len(keep):
        pos = l2_normalize(np.asarray(positives, dtype=np.float32))
        centre = l2_normalize(pos.sum(axis=0, keepdims=True))[0]
        # leave-one-out: how alike an example is to the *other* examples (an example is
        # always close to a mean it is part of, an unlabelled photo of the category is not)
        loo = l2_normalize(pos.sum(axis=0, keepdims=True) - pos)
        alike = np.sum(loo * pos, axis=1)
        if len(keep) > 4 * n:  # score a sample only: 50,000 rows are not needed
            keep = np.sort(rng.choice(keep, size=4 * n, replace=False))
        sims = l2_normalize(np.asarray(matrix.vectors[keep], dtype=np.float32)) @ centre
        # halfway between how alike examples are and how alike a typical photo is
        cut = min(
            float(np.quantile(alike, 0.1)), (float(np.median(alike)) + float(np.median(sims))) / 2
        )
        keep = keep[sims < cut]
    if len(keep) > n:
        keep = np.sort(rng.choice(keep, size=n, replace=False))
    return np.asarray(matrix.vectors[keep], dtype=np.float32)


def unlabelled_sample(
    matrix: EmbeddingMatrix, exclude: np.ndarray, n: int = UNLABELLED_SAMPLE, seed: int = 0
) -> np.ndarray:
    """Up to ``n`` random catalog embeddings outside ``exclude``, kept *unlabelled*."""
    if len(matrix) == 0:
        return np.zeros((0, 0), np.float32)
    keep = np.flatnonzero(~np.isin(matrix.photo_ids, exclude))
    if len(keep) > n:
        keep = np.sort(np.random.default_rng(seed).choice(keep, size=n, replace=False))
    return np.asarray(matrix.vectors[keep], dtype=np.float32)


def training_data(
    matrix: EmbeddingMatrix,
    labels: UserLabels,
    *,
    exclude: np.ndarray | None = None,
    seed: int = 0,
) -> Labelled:
    """What a category is fitted on: the user's labels plus a sample of the catalog's other
    photos, as unlabelled photos (fit.fit_prototype_head), not as negatives.

    ``exclude`` (default: the labelled photos) are kept out of the catalog sample; a
    retrain passes all the labels so its held-back photos never leak into training. The
    Teacher, retrain, pseudo-labelling and the benchmarks all build their data here, so
    they fit the same way.
    """
    ids = labels.photo_ids if exclude is None else exclude
    unlabelled = unlabelled_sample(matrix, ids, seed=seed)
    return Labelled.build(labels.positives, labels.negatives, unlabelled=unlabelled)


def holdout_mask(photo_ids: np.ndarray, fraction: float = 0.25) -> np.ndarray:
    """A stable held-back part of the user's labels: chosen by photo id, so successive
    retrains are compared on the same photos (and never trained on them)."""
    ids = np.asarray(photo_ids, dtype=np.uint64)
    mixed = (ids * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)
    return (mixed % np.uint64(1000)).astype(np.int64) < int(fraction * 1000)
