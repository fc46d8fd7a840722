"""The review list: photos a person should look at. Nothing is hidden or deleted for it.

A photo is listed for each reason that applies:

* ``uncertain`` — the latest prediction of the head is below the head's threshold and the
  user has not corrected the photo (a correction settles the label for good). A photo the
  model never saw is not "uncertain"; it is simply not indexed yet.
* ``blurry`` — its blur score (variance of the Laplacian at 512 px) is below the
  threshold (:data:`smartalbum.imaging.quality.BLUR_THRESHOLD` by default).
* ``exposure`` — the exposure verdict is ``under`` or ``over``.

Blur and exposure are independent of the label: a corrected photo can still be blurry.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from smartalbum.imaging.quality import BLUR_THRESHOLD

if TYPE_CHECKING:
    from smartalbum.library.catalog import PhotoRecord

REASONS = ("uncertain", "blurry", "exposure")


@dataclass(frozen=True)
class ReviewItem:
    """One photo on the review list and why it is there."""

    photo_id: int
    path: str | None
    reasons: tuple[str, ...]
    label: str | None
    confidence: float | None
    blur: float | None
    exposure: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "photo_id": self.photo_id,
            "path": self.path,
            "reasons": list(self.reasons),
            "label": self.label,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "blur": None if self.blur is None else round(self.blur, 2),
            "exposure": self.exposure,
        }


def review_reasons(photo: PhotoRecord, *, blur_threshold: float = BLUR_THRESHOLD) -> list[str]:
    """The reasons (in :data:`REASONS` order) for which ``photo`` needs a look."""
    reasons = []
    if photo.correction is None and photo.prediction is not None and photo.prediction.uncertain:
        reasons.append("uncertain")
    if photo.blur is not None and photo.blur < blur_threshold:
        reasons.append("blurry")
    if photo.exposure_verdict in ("under", "over"):
        reasons.append("exposure")
    return reasons


def review_list(
    photos: Iterable[PhotoRecord],
    *,
    reasons: Collection[str] | None = None,
    blur_threshold: float = BLUR_THRESHOLD,
) -> list[ReviewItem]:
    """Photos with at least one reason (restricted to ``reasons`` when given), in input order."""
    wanted = set(REASONS if reasons is None else reasons)
    unknown = wanted - set(REASONS)
    if unknown:
        raise ValueError(f"unknown review reason(s): {', '.join(sorted(unknown))}")
    items = []
    for photo in photos:
        found = [r for r in review_reasons(photo, blur_threshold=blur_threshold) if r in wanted]
        if found:
            p = photo.prediction
            items.append(
                ReviewItem(
                    photo_id=photo.id,
                    path=photo.path,
                    reasons=tuple(found),
                    label=photo.label,
                    confidence=p.confidence if p is not None and photo.correction is None else None,
                    blur=photo.blur,
                    exposure=photo.exposure_verdict,
                )
            )
    return items
