#!/usr/bin/env python3
"""Smart Album mobile bundle: reference classifier (onnxruntime + numpy + Pillow only).

This file is copied into every bundle written by ``smartalbum export --mobile OUT``. It is
the executable specification of what an app must do with the bundle's files to get the same
answers as the Smart Album server, step by step, in plain numpy, so that a port to Kotlin,
Swift or C++ can be checked line by line against it:

1. decode   Pillow; JPEGs at reduced size (libjpeg DCT scaling, ``Image.draft``), colour
            mode to RGB (alpha over white, embedded ICC profile to sRGB), EXIF orientation;
            then shrink (area average) so the longest side is ``2 * size`` px.
2. prepare  ``preprocess.json``: centre crop / squash / pad, resize to ``size`` x ``size``
            (area average to shrink, bilinear to enlarge, OpenCV's conventions), luminance
            equalisation, ``(x - mean) / std``, CHW float32.
3. backbone ``backbone.ort`` (ONNX Runtime mobile format, int8): input ``image``
            N x 3 x S x S -> ``embedding`` N x D.
4. heads    ``heads.json``: L2-normalised embedding [+ ImageNet concept scores computed
            from the raw embedding with ``imagenet_fc.bin``], standardisation, dense layers
            with ReLU between them, softmax(logits / temperature); a top probability below
            ``threshold`` marks the photo *uncertain* (the server sends it to review).

Usage::

    python reference.py BUNDLE_DIR photo.jpg [more photos] [--head NAME] [--json]

Nothing here imports OpenCV or Smart Album: the resampling and colour conversions are
re-implemented with numpy following OpenCV's own arithmetic (float32 area sums, 11-bit
fixed-point bilinear weights, 14-bit integer YCrCb), which reproduces the server's network
input exactly on the tested photos; Smart Album's tests hold labels equal and probabilities
within 0.02 of the server's (measured: identical).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

MOBILE_FORMAT = "smartalbum-mobile/1"

# --------------------------------------------------------------------------- decoding


def _orientation(im: Image.Image) -> int:
    try:
        value = int(im.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - a damaged EXIF block is common: treat as upright
        return 1
    return value if 1 <= value <= 8 else 1


def _to_rgb(im: Image.Image) -> np.ndarray:
    """Any common Pillow mode -> H x W x 3 uint8 RGB (alpha over white, ICC -> sRGB)."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        grey = (np.asarray(im).astype(np.uint16) >> 8).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    icc = im.info.get("icc_profile")
    if mode == "1":
        im = im.convert("L")
    elif mode in ("P", "PA"):
        im = im.convert("RGBA" if mode == "PA" or "transparency" in im.info else "RGB")
    elif mode in ("L", "RGB") and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("LA", "La", "RGBa"):
        im = im.convert("RGBA")
    if im.mode == "RGBA":
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, im).convert("RGB")
        if mode in ("LA", "La"):
            im = im.convert("L")
    if icc:
        im = _to_srgb(im, icc)
    return np.asarray(im.convert("RGB") if im.mode != "RGB" else im)


def _to_srgb(im: Image.Image, icc: bytes) -> Image.Image:
    try:
        from PIL import ImageCms

        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(src).lower().replace(" ", ""):
            return im
        if im.mode not in ("RGB", "CMYK", "L"):
            return im
        transform = ImageCms.buildTransform(src, ImageCms.createProfile("sRGB"), im.mode, "RGB")
        return ImageCms.applyTransform(im, transform)
    except Exception:  # noqa: BLE001 - an unusable profile: keep the raw values
        return im


def _upright(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """EXIF orientation 2..8 -> the upright picture."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1, :],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, k=-1),
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
        8: lambda a: np.rot90(a, k=1),
    }
    return ops[orientation](rgb) if orientation in ops else rgb


def decode(path: str | Path, max_side: int) -> np.ndarray:
    """Read a photo upright as RGB uint8, longest side at most ``max_side``."""
    try:  # HEIC/HEIF when the optional pillow-heif plug-in is installed
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:
        pass
    with Image.open(path) as im:
        fmt = im.format
        orientation = 1 if fmt == "HEIF" else _orientation(im)
        if fmt in ("JPEG", "MPO"):
            w, h = im.size
            longest = max(w, h)
            if longest > max_side:
                im.draft(
                    "RGB",
                    (max(1, -(-w * max_side // longest)), max(1, -(-h * max_side // longest))),
                )
        im.load()
        rgb = _to_rgb(im)
    h, w = rgb.shape[:2]
    if max(h, w) > max_side:
        scale = max_side / max(h, w)
        rgb = resize_area(rgb, max(1, round(w * scale)), max(1, round(h * scale)))
    return np.ascontiguousarray(_upright(rgb, orientation))


# --------------------------------------------------------------------------- resampling


def _area_taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV INTER_AREA taps: per output pixel, the source indices and the share of each
    (dst x K arrays, padded with zero weights), in OpenCV's summation order."""
    scale = src / dst
    taps: list[list[tuple[int, float]]] = []
    for d in range(dst):
        f1 = d * scale
        f2 = f1 + scale
        s1 = min(math.ceil(f1), src - 1)
        s2 = min(math.floor(f2), src - 1)
        s1 = min(s1, s2)
        cell = min(scale, src - f1)
        row = []
        if s1 - f1 > 1e-3:
            row.append((s1 - 1, (s1 - f1) / cell))
        row += [(s, 1.0 / cell) for s in range(s1, s2)]
        if f2 - s2 > 1e-3:
            row.append((s2, min(min(f2 - s2, 1.0), cell) / cell))
        taps.append(row)
    k = max(len(r) for r in taps)
    idx = np.zeros((dst, k), dtype=np.int64)
    wt = np.zeros((dst, k), dtype=np.float32)
    for d, row in enumerate(taps):
        for j, (s, w) in enumerate(row):
            idx[d, j], wt[d, j] = s, w
    return idx, wt


def resize_area(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Shrink by area averaging (OpenCV INTER_AREA), uint8 in and out."""
    h, w = img.shape[:2]
    sx, sy = w / width, h / height
    if sx == int(sx) and sy == int(sy):  # whole factors: plain block means
        kx, ky = int(sx), int(sy)
        blocks = img[: height * ky, : width * kx].astype(np.int64)
        s = blocks.reshape(height, ky, width, kx, 3).sum(axis=(1, 3))
        if kx == 2 and ky == 2:
            return ((s + 2) >> 2).astype(np.uint8)
        out = np.rint(s.astype(np.float32) * np.float32(1.0 / (kx * ky)))
        return np.clip(out, 0, 255).astype(np.uint8)
    # OpenCV sums in float32, tap by tap: across each row first, then down the columns.
    xi, xw = _area_taps(w, width)
    yi, yw = _area_taps(h, height)
    a = img.astype(np.float32)
    rows = np.zeros((h, width, a.shape[2]), dtype=np.float32)
    for j in range(xi.shape[1]):
        rows += a[:, xi[:, j]] * xw[None, :, j, None]
    out = np.zeros((height, width, a.shape[2]), dtype=np.float32)
    for j in range(yi.shape[1]):
        out += rows[yi[:, j]] * yw[:, j, None, None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _linear_taps(src: int, dst: int, clamp_weights: bool) -> tuple[np.ndarray, np.ndarray]:
    """First source index and its fixed-point weight (of 2048) per output pixel.

    OpenCV clamps the weights at the borders across a row (x) but only the row indices
    down a column (y), which rounds differently; both are reproduced.
    """
    scale = src / dst
    idx = np.zeros(dst, dtype=np.int64)
    w0 = np.zeros(dst, dtype=np.int64)
    for d in range(dst):
        f = float(np.float32((d + 0.5) * scale - 0.5))
        s = math.floor(f)
        f -= s
        if clamp_weights and s < 0:
            f, s = 0.0, 0
        if clamp_weights and s >= src - 1:
            f, s = 0.0, src - 1
        idx[d] = s
        w0[d] = int(np.rint(np.float32((1.0 - f) * 2048)))
    return idx, w0


def resize_linear(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Enlarge bilinearly (OpenCV INTER_LINEAR, 11-bit fixed point), uint8 in and out."""
    h, w = img.shape[:2]
    xi, xw = _linear_taps(w, width, clamp_weights=True)
    yi, yw = _linear_taps(h, height, clamp_weights=False)
    a = img.astype(np.int64)
    x1 = np.minimum(xi + 1, w - 1)
    rows = a[:, xi] * xw[None, :, None] + a[:, x1] * (2048 - xw)[None, :, None]
    y0, y1 = np.clip(yi, 0, h - 1), np.clip(yi + 1, 0, h - 1)
    top = (yw[:, None, None] * (rows[y0] >> 4)) >> 16
    bottom = ((2048 - yw)[:, None, None] * (rows[y1] >> 4)) >> 16
    return np.clip((top + bottom + 2) >> 2, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- preprocess


def _descale(x: np.ndarray, n: int = 14) -> np.ndarray:
    return (x + (1 << (n - 1))) >> n


def equalize_luma(img: np.ndarray) -> np.ndarray:
    """Histogram-equalise the Y of YCrCb, keep the colour (OpenCV's integer formulas)."""
    r, g, b = (img[:, :, i].astype(np.int64) for i in range(3))
    y = _descale(r * 4899 + g * 9617 + b * 1868)
    cr = np.clip(_descale((r - y) * 11682 + (128 << 14)), 0, 255)
    cb = np.clip(_descale((b - y) * 9241 + (128 << 14)), 0, 255)
    y = np.clip(y, 0, 255)
    hist = np.bincount(y.ravel(), minlength=256)
    first = int(np.flatnonzero(hist)[0])
    if hist[first] == y.size:
        y = np.full_like(y, first)
    else:
        scale = np.float32(255.0 / (y.size - hist[first]))
        cum = np.cumsum(hist).astype(np.int64) - hist[first]
        lut = np.clip(np.rint(cum.astype(np.float32) * scale), 0, 255).astype(np.int64)
        lut[: first + 1] = 0
        y = lut[y]
    cr, cb = cr - 128, cb - 128
    out = np.stack(
        [
            y + _descale(cr * 22987),
            y + _descale(cb * -5636 + cr * -11698),
            y + _descale(cb * 29049),
        ],
        axis=2,
    )
    return np.clip(out, 0, 255).astype(np.uint8)


def prepare(img: np.ndarray, spec: dict) -> np.ndarray:
    """Upright RGB uint8 photo -> 3 x S x S float32 network input (``preprocess.json``)."""
    size = int(spec["size"])
    h, w = img.shape[:2]
    if spec["resize"] == "center_crop":
        side = max(1, round(min(h, w) * float(spec.get("crop_fraction", 1.0))))
        top, left = (h - side) // 2, (w - side) // 2
        img = img[top : top + side, left : left + side]
    elif spec["resize"] == "pad":
        side = max(h, w)
        canvas = np.full((side, side, 3), 127, dtype=np.uint8)
        top, left = (side - h) // 2, (side - w) // 2
        canvas[top : top + h, left : left + w] = img
        img = canvas
    src = min(img.shape[:2])
    detail = spec.get("detail_size")
    if detail is not None and src > detail:
        img = resize_area(img, detail, detail)
        src = detail
    if img.shape[0] != size or img.shape[1] != size:
        img = resize_area(img, size, size) if size < src else resize_linear(img, size, size)
    if spec.get("equalize", "none") == "luma":
        img = equalize_luma(img)
    elif spec.get("equalize", "none") != "none":
        raise ValueError(f"equalisation {spec['equalize']!r} is not in the reference program")
    x = img.astype(np.float32)
    x -= np.asarray(spec["mean"], dtype=np.float32)
    x /= np.asarray(spec["std"], dtype=np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


# --------------------------------------------------------------------------- heads


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class MobileModel:
    """The bundle's backbone session and heads."""

    def __init__(self, bundle_dir: str | Path) -> None:
        root = Path(bundle_dir)
        manifest = json.loads((root / "mobile.json").read_text())
        if manifest.get("format") != MOBILE_FORMAT:
            raise ValueError(f"{root}: not a Smart Album mobile bundle")
        self.manifest = manifest
        self.spec = json.loads((root / "preprocess.json").read_text())
        heads = json.loads((root / "heads.json").read_text())
        self.default_head = heads["default_head"]
        self.heads = heads["heads"]
        self.fc = None
        if heads.get("concept_fc"):
            info = heads["concept_fc"]
            raw = np.fromfile(root / info["file"], dtype=info["dtype"]).astype(np.float32)
            d, k = info["shape"]
            self.fc = (raw[: d * k].reshape(d, k), raw[d * k : d * k + k])
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(root / manifest["backbone"]["file"]), opts, providers=["CPUExecutionProvider"]
        )
        self.input_name = manifest["backbone"]["input"]
        self.embedding_name = manifest["backbone"]["embedding_output"]

    def embed(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run([self.embedding_name], {self.input_name: batch})[0]

    def head_probabilities(self, emb: np.ndarray, name: str) -> np.ndarray:
        head = self.heads[name]
        emb = emb.astype(np.float32)
        x = emb
        if head["l2_normalize"]:
            x = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        if head.get("concepts"):
            w, b = self.fc
            logits = emb @ w + b
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            groups = np.zeros((w.shape[1], len(head["concepts"])), dtype=np.float32)
            for j, idx in enumerate(head["concepts"].values()):
                groups[idx, j] = 1.0
            scores = np.log(p @ groups + 1e-4)
            x = np.concatenate([x, float(head["concept_scale"]) * scores], axis=1)
        if head.get("mean") is not None:
            x = x - np.asarray(head["mean"], dtype=np.float32)
        if head.get("scale") is not None:
            x = x / np.asarray(head["scale"], dtype=np.float32)
        layers = head["layers"]
        for i, layer in enumerate(layers):
            x = x @ np.asarray(layer["weight"], dtype=np.float32) + np.asarray(
                layer["bias"], dtype=np.float32
            )
            if i < len(layers) - 1:
                x = np.maximum(x, 0.0)
        return _softmax(x / float(head["temperature"]))

    def classify(self, paths: list[str | Path], head: str | None = None) -> list[dict]:
        """One dict per photo: label, confidence, uncertain, probabilities."""
        name = head or self.default_head
        if name not in self.heads:
            raise KeyError(f"no head {name!r}; available: {', '.join(self.heads)}")
        max_side = 2 * int(self.spec["size"])
        batch = np.stack([prepare(decode(p, max_side), self.spec) for p in paths])
        probs = self.head_probabilities(self.embed(batch), name)
        labels = self.heads[name]["labels"]
        threshold = float(self.heads[name]["threshold"])
        out = []
        for path, row in zip(paths, probs, strict=True):
            top = int(np.argmax(row))
            out.append(
                {
                    "path": str(path),
                    "label": labels[top],
                    "confidence": float(row[top]),
                    "uncertain": bool(row[top] < threshold),
                    "probabilities": {lab: float(v) for lab, v in zip(labels, row, strict=True)},
                }
            )
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", help="the mobile bundle directory")
    parser.add_argument("photos", nargs="+")
    parser.add_argument("--head", default=None, help="head name (default: the bundle's)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)
    model = MobileModel(args.bundle)
    for result in model.classify(args.photos, args.head):
        if args.json:
            print(json.dumps(result))
        else:
            note = "  uncertain" if result["uncertain"] else ""
            print(f"{result['path']}\t{result['label']}\t{result['confidence']:.3f}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
