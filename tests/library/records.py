"""Build catalog :class:`PhotoRecord` objects in tests without a database.

The duplicates, review, trips and organise logic are pure functions over these records,
so most of their tests need nothing but ``record(id=1, width=..., ...)``.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from smartalbum.library.catalog import PhotoRecord, PredictionRecord

_REQUIRED = [
    f.name
    for f in fields(PhotoRecord)
    if f.default is MISSING and f.default_factory is MISSING  # type: ignore[misc]
]


def record(**values: Any) -> PhotoRecord:
    """A PhotoRecord: unspecified required fields are None, except the few that cannot be."""
    base: dict[str, Any] = dict.fromkeys(_REQUIRED)
    pid = int(values.get("id", 1))
    base.update(id=pid, sha256=f"{pid:064x}", size=1000, format="JPEG", width=100, height=100)
    base.update(values)
    return PhotoRecord(**base)


def prediction(label: str, confidence: float = 0.9, uncertain: bool = False) -> PredictionRecord:
    """A prediction of the ``album`` head (head/backbone versions are placeholders)."""
    return PredictionRecord(
        label=label,
        confidence=confidence,
        uncertain=uncertain,
        probabilities={label: confidence},
        head="album",
        head_version="h1",
        backbone_version="b1",
    )
