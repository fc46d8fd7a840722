"""Active learning: the photos whose label would teach a category the most come first.

A photo the head scores near its threshold is one it cannot decide; labelling it moves
the decision boundary, while confirming a 0.99 photo teaches almost nothing. So the review
queue is the unlabelled catalog ordered by |logit(score) - logit(threshold)|, smallest
first: the user's first 50 corrections land where they help most.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from smartalbum.categories.data import label_map
from smartalbum.categories.matrix import EmbeddingMatrix
from smartalbum.categories.resort import category_scores
from smartalbum.library.schema_teach import Category


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def most_uncertain(
    s: np.ndarray, threshold: float, candidates: np.ndarray, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """(rows of ``candidates`` to ask about, most uncertain first; their logit distance to
    the threshold). Pure numpy, so the benchmark asks exactly what the page asks."""
    distance = np.abs(_logit(s[candidates]) - _logit(threshold))
    k = min(limit, len(candidates))
    if k == 0:
        return candidates[:0], distance[:0]
    top = np.argpartition(distance, k - 1)[:k]
    top = top[np.argsort(distance[top], kind="stable")]
    return candidates[top], distance[top]


def review_queue(
    session: Session, category: Category, matrix: EmbeddingMatrix, *, limit: int = 50
) -> list[dict[str, Any]]:
    """Unlabelled photos, most uncertain first: photo id, score, uncertainty in [0, 1]."""
    s, threshold, version = category_scores(session, category, matrix)
    if version is None or len(matrix) == 0:
        return []
    labelled = np.fromiter(label_map(session, category), dtype=np.int64)
    candidates = np.flatnonzero(~np.isin(matrix.photo_ids, labelled))
    rows, distance = most_uncertain(s, threshold, candidates, limit)
    return [
        {
            "photo_id": int(matrix.photo_ids[row]),
            "score": round(float(s[row]), 4),
            "uncertainty": round(float(np.exp(-d)), 4),
            "predicted": bool(s[row] >= threshold),
        }
        for row, d in zip(rows, distance, strict=True)
    ]
