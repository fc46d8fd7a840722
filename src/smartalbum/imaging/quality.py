"""Photo quality at a glance: blur (variance of the Laplacian) and exposure.

Both measures run on a grey copy reduced to a fixed working size (longest side
:data:`WORK_SIDE`), for two reasons: the Laplacian's variance grows with resolution (a
12 MP photo and its 512 px thumbnail would otherwise score an order of magnitude apart),
and it keeps the cost constant (~1 ms) whatever the photo's size. Pictures already smaller
than the working size are measured as they are: enlarging them would invent blur.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import cv2
import numpy as np

#: Longest side, in pixels, at which blur and exposure are measured.
WORK_SIDE = 512

#: Default blur threshold: a Laplacian variance below this at WORK_SIDE means "blurry".
#: Sharp, in-focus photos at 512 px typically score several hundred to a few thousand;
#: missed focus, shake or heavy smoothing drops them well below 100 (the widely used
#: Pech-Pacheco / pyimagesearch rule of thumb, which holds at this fixed working size).
BLUR_THRESHOLD = 100.0

#: Grey levels at or below / at or above which a pixel counts as clipped (crushed / blown).
DARK_LEVEL = 16
BRIGHT_LEVEL = 239

#: Verdict thresholds on mean luminance (0..1) and on the share of clipped pixels.
UNDER_MEAN = 0.25
OVER_MEAN = 0.80
CLIPPED_SHARE = 0.5

Verdict = Literal["ok", "under", "over"]


@dataclass(frozen=True)
class Exposure:
    """Brightness summary: mean luminance (0..1), clipped shares (0..1) and a verdict."""

    mean: float
    dark_clipped: float
    bright_clipped: float
    verdict: Verdict


@dataclass(frozen=True)
class QualityReport:
    """Blur score, whether it is below the threshold, and the exposure summary."""

    blur: float
    is_blurry: bool
    exposure: Exposure

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (for the catalog and the API)."""
        return asdict(self)


def _working_grey(image: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB (or HxW grey) -> grey uint8 with longest side <= WORK_SIDE."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or 0 in image.shape[:2]:
        raise ValueError(f"expected a uint8 HxW or HxWx3 image, got {image.shape} {image.dtype}")
    if image.ndim == 3:
        if image.shape[2] != 3:
            raise ValueError(f"expected 3 channels, got {image.shape[2]}")
        grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    else:
        grey = image
    h, w = grey.shape
    longest = max(h, w)
    if longest > WORK_SIDE:
        scale = WORK_SIDE / longest
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return grey


def blur_score(image: np.ndarray) -> float:
    """Variance of the Laplacian at the working size: higher is sharper."""
    return _blur(_working_grey(image))


def _blur(grey: np.ndarray) -> float:
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def exposure(image: np.ndarray) -> Exposure:
    """Mean luminance, clipped shares and a verdict ("ok", "under" or "over").

    "under" when the picture is dark on average (mean < UNDER_MEAN) or more than
    CLIPPED_SHARE of it is crushed to black; "over" symmetrically for bright/blown.
    """
    return _exposure(_working_grey(image))


def _exposure(grey: np.ndarray) -> Exposure:
    hist = np.bincount(grey.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    mean = float((hist * np.arange(256)).sum() / total / 255.0)
    dark = float(hist[: DARK_LEVEL + 1].sum() / total)
    bright = float(hist[BRIGHT_LEVEL:].sum() / total)
    verdict: Verdict = "ok"
    if mean < UNDER_MEAN or dark > CLIPPED_SHARE:
        verdict = "under"
    elif mean > OVER_MEAN or bright > CLIPPED_SHARE:
        verdict = "over"
    return Exposure(mean=mean, dark_clipped=dark, bright_clipped=bright, verdict=verdict)


def assess(image: np.ndarray, *, blur_threshold: float = BLUR_THRESHOLD) -> QualityReport:
    """Blur and exposure of one photo (HxWx3 uint8 RGB, e.g. ``load_photo(...).image``)."""
    grey = _working_grey(image)
    blur = _blur(grey)
    return QualityReport(blur=blur, is_blurry=blur < blur_threshold, exposure=_exposure(grey))
