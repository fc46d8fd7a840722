"""Generated photos for the training tests: three visually distinct classes, no files shipped.

``stripes``, ``checks`` and ``discs`` differ in texture and shape, which any ImageNet
backbone separates easily even at 64 px, while colours, sizes, phases and aspect ratios are
random, so a test that a model "learned" cannot pass by memorising one picture.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

CLASSES = ("stripes", "checks", "discs")


def make_image(kind: str, rng: np.random.Generator, size: tuple[int, int] | None = None) -> np.ndarray:
    """One RGB uint8 picture of ``kind``."""
    h, w = size or (int(rng.integers(90, 140)), int(rng.integers(90, 140)))
    # A random smooth background (a 3x3 colour field enlarged) gives every picture its own
    # coarse structure, so perceptual hashes of different pictures stay far apart.
    field = rng.integers(0, 256, (3, 3, 3)).astype(np.float32)
    img = cv2.resize(field, (w, h), interpolation=cv2.INTER_CUBIC)
    fg = rng.integers(0, 256, 3)
    yy, xx = np.mgrid[0:h, 0:w]
    if kind == "stripes":
        period = int(rng.integers(8, 16))
        mask = ((yy + int(rng.integers(0, period))) // (period // 2)) % 2 == 0
    elif kind == "checks":
        cell = int(rng.integers(8, 14))
        mask = ((yy // cell) + (xx // cell)) % 2 == 0
    elif kind == "discs":
        mask = np.zeros((h, w), dtype=bool)
        for _ in range(int(rng.integers(2, 5))):
            cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(10, 25)
            mask |= (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    else:
        raise ValueError(kind)
    img[mask] = 0.35 * img[mask] + 0.65 * fg
    noise = rng.normal(0, 6, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def save_jpeg(path: Path, image: np.ndarray, quality: int = 92) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok = cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                     [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok, path
    return path


def make_class_folders(root: Path, n: int = 12, seed: int = 0,
                       classes: tuple[str, ...] = CLASSES) -> Path:
    """root/<class>/<class>_<i>.jpg, ``n`` distinct photos per class."""
    rng = np.random.default_rng(seed)
    for kind in classes:
        for i in range(n):
            save_jpeg(root / kind / f"{kind}_{i:03d}.jpg", make_image(kind, rng))
    return root


def make_flat(root: Path, n: int = 6, seed: int = 1, classes: tuple[str, ...] = CLASSES) -> Path:
    """The seed's flat layout: root/<class>_<i>.jpg."""
    rng = np.random.default_rng(seed)
    for kind in classes:
        for i in range(n):
            save_jpeg(root / f"{kind}_{i:03d}.jpg", make_image(kind, rng))
    return root
