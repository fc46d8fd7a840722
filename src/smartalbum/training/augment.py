"""Train and eval transforms (torchvision-reference ``presets.py`` style).

Both transforms end with :func:`smartalbum.imaging.preprocess.preprocess`, the function the
server runs, so training never sees a differently prepared picture than serving does;
:class:`EvalTransform` *is* that function. :class:`TrainTransform` first perturbs the uint8
working image with albumentations: the seed recipe (rotation, flip, brightness/contrast)
plus what makes a classifier judge content rather than the camera or the framing of one
source dataset: random resized crops, resolution jitter, JPEG re-compression, sensor noise,
colour shifts, occasional grayscale and slight blur. Every step is switchable through
:class:`AugmentConfig`, so ablations are one dataclass away.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, replace
from typing import Any

import cv2
import numpy as np

from smartalbum.imaging.preprocess import PreprocessSpec, preprocess

# albumentations checks PyPI for a newer version on import; Smart Album is offline.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
import albumentations as A  # noqa: E402


@dataclass(frozen=True)
class AugmentConfig:
    """Which augmentations run, how often (``*_p``) and how strongly.

    A step whose probability is 0 (or whose range is ``None``) is left out entirely.
    """

    crop_scale: tuple[float, float] | None = (0.35, 1.0)  # random resized crop (area share)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip_p: float = 0.5
    rotate_limit: float = 15.0  # degrees, the seed's +-15
    rotate_p: float = 0.5
    brightness: float = 0.2  # the seed's +-0.2
    contrast: float = 0.2
    brightness_contrast_p: float = 0.5
    hue_shift: int = 8  # OpenCV hue units (0..180)
    saturation_shift: int = 25
    value_shift: int = 0
    hsv_p: float = 0.3
    grayscale_p: float = 0.05
    blur_sigma: tuple[float, float] = (0.3, 1.2)
    blur_p: float = 0.1
    downscale_range: tuple[float, float] = (0.3, 0.8)  # resolution jitter (shrink, re-enlarge)
    downscale_p: float = 0.25
    jpeg_quality: tuple[int, int] = (35, 95)
    jpeg_p: float = 0.3
    noise_std: tuple[float, float] = (0.01, 0.05)  # share of the 0..255 range
    noise_p: float = 0.2

    def scaled(self, strength: float) -> AugmentConfig:
        """The same recipe, ``strength`` times as often and as strong (0 = no augmentation)."""
        if strength < 0:
            raise ValueError("strength must be >= 0")
        if strength == 1:
            return self
        s = strength

        def p(v: float) -> float:
            return min(1.0, v * s)

        crop = None
        if self.crop_scale is not None and s > 0:
            lo = max(0.1, 1.0 - (1.0 - self.crop_scale[0]) * s)
            crop = (min(lo, self.crop_scale[1]), self.crop_scale[1])
        return replace(
            self,
            crop_scale=crop,
            hflip_p=min(0.5, self.hflip_p * s),
            rotate_limit=self.rotate_limit * s,
            rotate_p=p(self.rotate_p),
            brightness=self.brightness * s,
            contrast=self.contrast * s,
            brightness_contrast_p=p(self.brightness_contrast_p),
            hue_shift=round(self.hue_shift * s),
            saturation_shift=round(self.saturation_shift * s),
            value_shift=round(self.value_shift * s),
            hsv_p=p(self.hsv_p),
            grayscale_p=p(self.grayscale_p),
            blur_p=p(self.blur_p),
            downscale_p=p(self.downscale_p),
            jpeg_p=p(self.jpeg_p),
            noise_p=p(self.noise_p),
        )


class EvalTransform:
    """Exactly the serving preprocessing: uint8 HxWx3 -> float32 3xSxS."""

    def __init__(self, spec: PreprocessSpec) -> None:
        self.spec = spec

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return preprocess(image, self.spec)

    def describe(self) -> dict[str, Any]:
        """What determines the output (a cache key part)."""
        return {"kind": "eval", "spec": self.spec.model_dump()}


class TrainTransform:
    """Random augmentation of the working image, then the serving preprocessing.

    ``seed`` makes the sequence of random views reproducible (a fixed seed gives the same
    views in the same order), which keeps cached embeddings meaningful.
    """

    def __init__(
        self,
        spec: PreprocessSpec,
        config: AugmentConfig | None = None,
        *,
        strength: float = 1.0,
        seed: int | None = 0,
    ) -> None:
        self.spec = spec
        self.base_config = config or AugmentConfig()
        self.strength = strength
        self.config = self.base_config.scaled(strength)
        self.seed = seed
        steps = build_steps(self.config, self.crop_side(spec))
        self.pipeline = A.Compose(steps, seed=seed) if steps else None

    @staticmethod
    def crop_side(spec: PreprocessSpec) -> int:
        """Side of the square random crop: what preprocess' centre crop then keeps whole."""
        return int(math.ceil(spec.size / spec.crop_fraction))

    def augment(self, image: np.ndarray) -> np.ndarray:
        """Only the random part: uint8 HxWx3 -> uint8 (for looking at augmented photos)."""
        if self.pipeline is None:
            return image
        return self.pipeline(image=image)["image"]

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return preprocess(self.augment(image), self.spec)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "train",
            "spec": self.spec.model_dump(),
            "config": asdict(self.config),
            "seed": self.seed,
        }


def build_steps(cfg: AugmentConfig, crop_side: int) -> list[A.BasicTransform]:
    """The albumentations steps of ``cfg`` in order: geometry, photometry, then camera.

    Camera effects (resolution loss, noise, JPEG) come last because a camera applies them
    after the scene was framed and lit.
    """
    steps: list[A.BasicTransform] = []
    if cfg.crop_scale is not None:
        steps.append(
            A.RandomResizedCrop(
                size=(crop_side, crop_side),
                scale=cfg.crop_scale,
                ratio=cfg.crop_ratio,
                interpolation=cv2.INTER_LINEAR,
                area_for_downscale="image",
                p=1.0,
            )
        )
    if cfg.hflip_p > 0:
        steps.append(A.HorizontalFlip(p=cfg.hflip_p))
    if cfg.rotate_p > 0 and cfg.rotate_limit > 0:
        steps.append(
            A.Rotate(limit=cfg.rotate_limit, border_mode=cv2.BORDER_REFLECT_101, p=cfg.rotate_p)
        )
    if cfg.brightness_contrast_p > 0 and (cfg.brightness > 0 or cfg.contrast > 0):
        steps.append(
            A.RandomBrightnessContrast(
                brightness_limit=cfg.brightness,
                contrast_limit=cfg.contrast,
                p=cfg.brightness_contrast_p,
            )
        )
    if cfg.hsv_p > 0:
        steps.append(
            A.HueSaturationValue(
                hue_shift_limit=cfg.hue_shift,
                sat_shift_limit=cfg.saturation_shift,
                val_shift_limit=cfg.value_shift,
                p=cfg.hsv_p,
            )
        )
    if cfg.grayscale_p > 0:
        steps.append(A.ToGray(p=cfg.grayscale_p))
    if cfg.blur_p > 0:
        steps.append(A.GaussianBlur(blur_limit=0, sigma_limit=cfg.blur_sigma, p=cfg.blur_p))
    if cfg.downscale_p > 0:
        steps.append(
            A.Downscale(
                scale_range=cfg.downscale_range,
                interpolation_pair={"downscale": cv2.INTER_AREA, "upscale": cv2.INTER_LINEAR},
                p=cfg.downscale_p,
            )
        )
    if cfg.noise_p > 0:
        steps.append(A.GaussNoise(std_range=cfg.noise_std, p=cfg.noise_p))
    if cfg.jpeg_p > 0:
        steps.append(A.ImageCompression(quality_range=cfg.jpeg_quality, p=cfg.jpeg_p))
    return steps


#: What overlaid text looks like in albums: date stamps, captions, watermarks, numbers.
_GLYPHS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZabcdefghkmnoprstuvwxyz'/:-"
_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_PLAIN,
)


def overlay_text(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``image`` with one to three short strings drawn on it (1-8 characters,
    5-40 % of the short side tall, white, black or yellow, sometimes outlined).

    Overlaid text does not change what a photo shows, so a head trained with it learns
    to ignore it: measured on ``edge_cases/orientation`` (the same photo with a large
    digit 1-8 drawn in the middle), see docs/model.md.
    """
    out = np.ascontiguousarray(image.copy())
    h, w = out.shape[:2]
    short = min(h, w)
    colours = ((255, 255, 255), (0, 0, 0), (255, 220, 40))
    for _ in range(int(rng.integers(1, 4))):
        n = int(rng.integers(1, 9))
        text = "".join(_GLYPHS[int(i)] for i in rng.integers(0, len(_GLYPHS), n))
        font = _FONTS[int(rng.integers(len(_FONTS)))]
        height = short * rng.uniform(0.05, 0.4)
        (tw, th), _ = cv2.getTextSize(text, font, 1.0, 1)
        scale = height / max(th, 1)
        if tw * scale > w * 0.95:
            scale = w * 0.95 / max(tw, 1)
        thick = max(1, int(scale * rng.uniform(1.0, 3.0)))
        tw2, th2 = int(tw * scale), int(th * scale)
        x = int(rng.uniform(0, max(1, w - tw2)))
        y = int(rng.uniform(th2, max(th2 + 1, h)))
        colour = colours[int(rng.integers(len(colours)))]
        if rng.random() < 0.4:
            edge = (0, 0, 0) if colour != (0, 0, 0) else (255, 255, 255)
            cv2.putText(out, text, (x, y), font, scale, edge, thick + 2, cv2.LINE_AA)
        cv2.putText(out, text, (x, y), font, scale, colour, thick, cv2.LINE_AA)
    return out
