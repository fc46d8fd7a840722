"""People pasted into scenes: "people in front of scenery" learned as people.

The pool's people are all single full-body street-fashion shots, so a head fitted on them
calls a head-and-shoulders portrait before the sea ``landscape``. ``people_masks/<name>.png``
outlines the person in 225 of those photos; this module cuts them out and pastes them into
the landscapes and streets of the training photos (never the validation ones), as:

- ``full``: one person, 45-95 % of the frame's height;
- ``group``: two to four people side by side;
- ``head`` / ``waist``: the top 22-32 % (head and shoulders) or 40-60 % of one or two
  people, enlarged to fill most of the frame, like a portrait or a selfie;
- ``tiny``: one far-away person (6-14 % of the height) labelled as the *scene*: a person
  who merely stands in a landscape does not make it ``people`` (the wild set's rule).

Edges are feathered and the result goes through the training augmentation, so the paste
seams do not become the cue. Deterministic in ``seed``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from smartalbum.imaging.decode import load_photo
from smartalbum.training.augment import AugmentConfig, TrainTransform

KINDS = ("full", "group", "head", "head", "waist", "tiny")
#: The augmentation after pasting: milder crops than for whole photos, so people stay in.
PASTE_AUGMENT = AugmentConfig(
    crop_scale=(0.55, 1.0),
    rotate_limit=8.0,
    grayscale_p=0.1,
    downscale_p=0.3,
    downscale_range=(0.25, 0.8),
    jpeg_p=0.4,
    hsv_p=0.4,
)


@dataclass(frozen=True)
class Cutout:
    """A person's pixels (tight box) and soft alpha in 0..1."""

    rgb: np.ndarray
    alpha: np.ndarray


def load_cutouts(masks_dir: Path, people_dir: Path, max_side: int = 900) -> list[Cutout]:
    """Every ``masks_dir/<name>.png`` with its ``people_dir/<name>.jpg``, cut to the mask."""
    out = []
    for mask_path in sorted(Path(masks_dir).glob("*.png")):
        photo = Path(people_dir) / f"{mask_path.stem}.jpg"
        if not photo.is_file():
            continue
        img = load_photo(photo, max_side=max_side, digest=False).image
        mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            continue
        if mask.shape != img.shape[:2]:
            mask = cv2.resize(mask, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_NEAREST)
        ys, xs = np.nonzero(mask > 127)
        if len(ys) < 100:
            continue
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        out.append(Cutout(img[y0:y1, x0:x1], (mask[y0:y1, x0:x1] > 127).astype(np.float32)))
    return out


def paste(
    canvas: np.ndarray, person: Cutout, height: float, cx: float, bottom: float, keep: float = 1.0
) -> np.ndarray:
    """Blend the top ``keep`` share of ``person``, scaled to ``height`` px, into ``canvas``
    (in place) with its bottom centre at (``cx``, ``bottom``); parts outside are clipped."""
    rows = max(4, int(person.rgb.shape[0] * keep))
    rgb, alpha = person.rgb[:rows], person.alpha[:rows]
    ph, pw = rgb.shape[:2]
    s = height / ph
    nw, nh = max(2, int(pw * s)), max(2, int(ph * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    p = cv2.resize(rgb, (nw, nh), interpolation=interp).astype(np.float32)
    a = cv2.resize(alpha, (nw, nh), interpolation=cv2.INTER_LINEAR)
    a = cv2.GaussianBlur(a, (0, 0), max(0.6, nh / 400))[..., None]
    big_h, big_w = canvas.shape[:2]
    x0, y0 = int(cx - nw / 2), int(bottom - nh)
    xa, ya, xb, yb = max(0, x0), max(0, y0), min(big_w, x0 + nw), min(big_h, y0 + nh)
    if xb <= xa or yb <= ya:
        return canvas
    sub = canvas[ya:yb, xa:xb].astype(np.float32)
    pp, aa = p[ya - y0 : yb - y0, xa - x0 : xb - x0], a[ya - y0 : yb - y0, xa - x0 : xb - x0]
    canvas[ya:yb, xa:xb] = (aa * pp + (1 - aa) * sub).astype(np.uint8)
    return canvas


def compose(
    background: np.ndarray, people: Sequence[Cutout], kind: str, rng: np.random.Generator
) -> np.ndarray:
    """One scene of ``kind`` (see the module docstring) on a copy of ``background``."""
    h0, w0 = background.shape[:2]
    s = 480 / min(h0, w0)  # pool thumbnails are 150 px: paste at a useful resolution
    size = (int(w0 * s), int(h0 * s))
    c = cv2.resize(background, size, interpolation=cv2.INTER_LINEAR if s > 1 else cv2.INTER_AREA)
    big_h, big_w = c.shape[:2]
    if kind == "tiny":
        return paste(
            c,
            people[0],
            big_h * rng.uniform(0.06, 0.14),
            big_w * rng.uniform(0.2, 0.8),
            big_h * rng.uniform(0.6, 0.95),
        )
    if kind == "full":
        return paste(
            c,
            people[0],
            big_h * rng.uniform(0.45, 0.95),
            big_w * rng.uniform(0.3, 0.7),
            big_h * rng.uniform(0.92, 1.05),
        )
    if kind == "group":
        h = big_h * rng.uniform(0.5, 0.95)
        xs = np.sort(rng.uniform(0.15, 0.85, len(people))) * big_w
        for person, x in zip(people, xs, strict=True):
            paste(c, person, h * rng.uniform(0.85, 1.1), x, big_h * rng.uniform(0.9, 1.15))
        return c
    n = len(people)  # head / waist
    xs = [big_w / 2] if n == 1 else list(np.linspace(0.3, 0.7, n) * big_w)
    for person, x in zip(people, xs, strict=True):
        keep = rng.uniform(0.22, 0.32) if kind == "head" else rng.uniform(0.4, 0.6)
        height = big_h * rng.uniform(0.55, 0.95) / (1 if n == 1 else 1.2)
        paste(c, person, height, x + rng.uniform(-0.08, 0.08) * big_w, big_h + 2, keep)
    return c


def scenes(
    cutouts: Sequence[Cutout],
    backgrounds: Sequence[tuple[Path, str, str]],
    n: int,
    *,
    spec_transform: TrainTransform | None = None,
    seed: int = 3,
) -> Iterator[tuple[np.ndarray, str, str, str]]:
    """``n`` augmented scenes as ``(image, label, source, name)``.

    ``backgrounds`` are ``(path, class, source)`` of landscape/architecture training photos;
    a ``tiny`` scene keeps its background's class, every other one is ``people``.
    """
    if not cutouts or not backgrounds:
        return
    rng = np.random.default_rng(seed)
    loaded: dict[Path, np.ndarray] = {}
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        path, bg_label, source = backgrounds[int(rng.integers(len(backgrounds)))]
        if path not in loaded:
            loaded[path] = load_photo(path, max_side=640, digest=False).image
        k = (
            1
            if kind in ("full", "tiny")
            else int(rng.integers(2, 5) if kind == "group" else rng.integers(1, 3))
        )
        chosen = rng.choice(len(cutouts), min(k, len(cutouts)), replace=False)
        img = compose(loaded[path], [cutouts[j] for j in chosen], kind, rng)
        if rng.random() < 0.5:
            img = np.ascontiguousarray(img[:, ::-1])
        if spec_transform is not None:
            img = spec_transform.augment(img)
        label = bg_label if kind == "tiny" else "people"
        yield img, label, f"paste/{source}", f"paste/{kind}/{i}"
