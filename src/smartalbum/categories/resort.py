"""Re-sort the catalog into a category from stored embeddings: no backbone run.

Scoring is one matrix-vector product over the cached embedding matrix (matrix.py); the
photos at or above the head's calibrated threshold become the category's members, with
the user's labels overriding the head (an example is always in, a counter-example never).
Only members are written, replacing the previous ones in one transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete
from sqlalchemy.orm import Session

from smartalbum.categories import store
from smartalbum.categories.data import label_map
from smartalbum.categories.fit import scores
from smartalbum.categories.matrix import EmbeddingMatrix
from smartalbum.library.schema_teach import Category, CategoryMember

_INSERT_CHUNK = 5000


@dataclass
class ResortResult:
    category: str
    version: int | None
    scored: int
    members: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "version": self.version,
            "scored": self.scored,
            "members": self.members,
            "seconds": round(self.seconds, 4),
        }


def category_scores(
    session: Session, category: Category, matrix: EmbeddingMatrix
) -> tuple[np.ndarray, float, int | None]:
    """(scores of every matrix row, threshold, active version); zeros without a head."""
    active = store.active_version(session, category)
    if active is None:
        return np.zeros(len(matrix), np.float32), 1.0, None
    head = store.head_of(active)
    return scores(head, matrix.vectors), float(head.threshold), active.version


def resort(session: Session, category: Category, matrix: EmbeddingMatrix) -> ResortResult:
    """Replace the category's members by what its active head and labels say now."""
    start = time.perf_counter()
    s, threshold, version = category_scores(session, category, matrix)
    member = s >= threshold if version is not None else np.zeros(len(matrix), bool)
    labels = label_map(session, category)
    if labels:
        pos = [pid for pid, positive in labels.items() if positive]
        neg = [pid for pid, positive in labels.items() if not positive]
        member[np.isin(matrix.photo_ids, pos)] = True
        member[np.isin(matrix.photo_ids, neg)] = False
    rows_idx = np.flatnonzero(member)
    session.execute(delete(CategoryMember).where(CategoryMember.category_id == category.id))
    rows = [
        {
            "category_id": category.id,
            "photo_id": int(matrix.photo_ids[i]),
            "score": float(s[i]),
            "head_version": int(version or 0),
        }
        for i in rows_idx
    ]
    table = CategoryMember.__table__
    for chunk in range(0, len(rows), _INSERT_CHUNK):
        session.execute(table.insert(), rows[chunk : chunk + _INSERT_CHUNK])
    session.flush()
    return ResortResult(category.name, version, len(matrix), len(rows), time.perf_counter() - start)
