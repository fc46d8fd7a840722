"""The one preprocessing truth: photo (upright RGB uint8) -> network input.

A :class:`PreprocessSpec` is stored in every model bundle (``preprocess.json``) and the
same :func:`preprocess` runs in training, evaluation, export calibration and serving, so
a model never sees a differently prepared picture than the one it was trained on.

Why the default is a centre crop: the shared training data has class-specific shapes
(150 px squares for landscape/architecture, tall portraits for people). Squashing keeps
that shape as a visible distortion and padding keeps it as grey bands, both of which a
classifier learns as a shortcut; a square crop of the middle hides the aspect ratio.
``detail_size`` optionally normalises resolution (reduce, then enlarge) so that tiny
thumbnails and sharp 12 MP photos look alike to the network.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

ResizeMode = Literal["center_crop", "squash", "pad"]
EqualizeMode = Literal["none", "luma", "clahe"]


class PreprocessSpec(BaseModel):
    """How a photo becomes a network input; frozen and serialisable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    size: int = Field(224, ge=16, le=1024, description="square input side, px")
    resize: ResizeMode = "center_crop"
    crop_fraction: float = Field(1.0, gt=0.2, le=1.0, description="share of the short side kept")
    detail_size: int | None = Field(
        None, ge=16, description="reduce the crop to at most this side before enlarging"
    )
    equalize: EqualizeMode = "none"
    mean: tuple[float, float, float] = (127.0, 127.0, 127.0)
    std: tuple[float, float, float] = (128.0, 128.0, 128.0)

    def to_json(self, path: Path) -> None:
        """Write the spec as pretty JSON (the bundle's ``preprocess.json``)."""
        path.write_text(json.dumps(self.model_dump(), indent=2) + "\n")

    @classmethod
    def from_json(cls, path: Path) -> PreprocessSpec:
        """Read a spec written by :meth:`to_json`."""
        return cls.model_validate(json.loads(path.read_text()))


def _interp(src_side: int, dst_side: int) -> int:
    """INTER_AREA to shrink (no aliasing), INTER_LINEAR to enlarge."""
    return cv2.INTER_AREA if dst_side < src_side else cv2.INTER_LINEAR


def resize_for_network(image: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """The geometric part: crop/squash/pad to a ``size`` x ``size`` uint8 RGB image."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got {image.shape} {image.dtype}")
    h, w = image.shape[:2]
    size = spec.size
    if spec.resize == "center_crop":
        side = max(1, round(min(h, w) * spec.crop_fraction))
        top, left = (h - side) // 2, (w - side) // 2
        image = image[top : top + side, left : left + side]
    elif spec.resize == "pad":
        side = max(h, w)
        canvas = np.full((side, side, 3), 127, dtype=np.uint8)
        top, left = (side - h) // 2, (side - w) // 2
        canvas[top : top + h, left : left + w] = image
        image = canvas
    # "squash" keeps the whole frame and lets the aspect ratio distort.
    src = min(image.shape[:2])
    if spec.detail_size is not None and src > spec.detail_size:
        d = spec.detail_size
        image = cv2.resize(image, (d, d), interpolation=cv2.INTER_AREA)
        src = d
    if image.shape[0] != size or image.shape[1] != size:
        image = cv2.resize(image, (size, size), interpolation=_interp(src, size))
    return np.ascontiguousarray(image)


_CLAHE = None


def equalize(image: np.ndarray, mode: EqualizeMode) -> np.ndarray:
    """Equalise luminance only: per-channel equalisation would shift colours.

    ``luma`` equalises the Y channel's histogram (YCrCb); ``clahe`` applies contrast-limited
    adaptive equalisation to LAB lightness. cv2.equalizeHist itself only takes one channel,
    which is why the seed's call on a 3-channel image failed.
    """
    if mode == "none":
        return image
    if mode == "luma":
        ycc = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb)
        ycc[:, :, 0] = cv2.equalizeHist(ycc[:, :, 0])
        return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)
    if mode == "clahe":
        global _CLAHE
        if _CLAHE is None:
            _CLAHE = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
        lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
        lab[:, :, 0] = _CLAHE.apply(lab[:, :, 0])
        return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
    raise ValueError(f"unknown equalisation mode {mode!r}")


def preprocess(image: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Photo (HxWx3 uint8 RGB) -> network input (3 x size x size float32, CHW)."""
    x = equalize(resize_for_network(image, spec), spec.equalize).astype(np.float32)
    x -= np.asarray(spec.mean, dtype=np.float32)
    x /= np.asarray(spec.std, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def preprocess_batch(images: Sequence[np.ndarray], spec: PreprocessSpec) -> np.ndarray:
    """Several photos -> an N x 3 x size x size float32 batch."""
    if not images:
        return np.zeros((0, 3, spec.size, spec.size), dtype=np.float32)
    return np.stack([preprocess(im, spec) for im in images])
