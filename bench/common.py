"""Shared benchmark inputs: 12-megapixel phone-like JPEGs made from the training pool.

Real albums hold 3-5 MB, 4032x3024 photos, some stored sideways with an EXIF orientation
tag; the shared training pool holds small thumbnails. :func:`generate_photos` bridges the
two so that benchmarks measure the decode cost that users actually pay: each source photo
(all classes, round-robin) is cropped to 4:3 (or 3:4 for portrait sources), enlarged to 12
MP, given mild sensor-like noise (which is what makes real photos 3-5 MB), and saved at a
JPEG quality chosen to land in that size range; every 5th photo is stored rotated with EXIF
Orientation 6, as phones do. Results are cached in ``out_dir``: a photo already there for
the same seed and generator version is not made again. Without ../shared/data, synthetic
scenes stand in (and the manifest says so).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
TRAIN_POOL = REPO_ROOT / ".." / "shared" / "data" / "train_pool"
GENERATOR_VERSION = 1
LONG_SIDE, SHORT_SIDE = 4032, 3024
TARGET_BYTES = (3_000_000, 5_000_000)
NOISE_SIGMA = 5.0
SIDEWAYS_EVERY = 5  # photos 4, 9, 14, ... are stored with EXIF Orientation 6
EXIF_ORIENTATION = 0x0112


def _sources(pool: Path) -> dict[str, list[Path]]:
    if not pool.is_dir():
        return {}
    return {
        d.name: sorted(p for p in d.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        for d in sorted(pool.iterdir())
        if d.is_dir()
    }


def _pick(sources: dict[str, list[Path]], i: int, seed: int) -> tuple[str, Path]:
    """Photo ``i``: classes round-robin, and within a class a seeded shuffle."""
    classes = list(sources)
    cls = classes[i % len(classes)]
    files = sources[cls]
    order = np.random.default_rng([seed, classes.index(cls)]).permutation(len(files))
    return cls, files[int(order[(i // len(classes)) % len(files)])]


def _synthetic(rng: np.random.Generator) -> np.ndarray:
    """A smooth colour field with a few shapes, when no real photos are available."""
    field = rng.integers(30, 226, size=(6, 8, 3), dtype=np.uint8)
    image = cv2.resize(field, (400, 300), interpolation=cv2.INTER_CUBIC)
    for _ in range(10):
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        centre = (int(rng.integers(0, 400)), int(rng.integers(0, 300)))
        cv2.circle(image, centre, int(rng.integers(10, 80)), colour, -1, cv2.LINE_AA)
    return image


def _to_12mp(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Centre-crop to 4:3 (3:4 when the source is portrait), enlarge, add mild noise."""
    h, w = rgb.shape[:2]
    portrait = h > w
    aspect = SHORT_SIDE / LONG_SIDE if portrait else LONG_SIDE / SHORT_SIDE  # width / height
    if w / h > aspect:
        cw, ch = round(h * aspect), h
    else:
        cw, ch = w, round(w / aspect)
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = rgb[top : top + ch, left : left + cw]
    size = (SHORT_SIDE, LONG_SIDE) if portrait else (LONG_SIDE, SHORT_SIDE)
    big = cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC).astype(np.float32)
    big += rng.standard_normal(big.shape, dtype=np.float32) * NOISE_SIGMA
    return np.clip(big, 0, 255).astype(np.uint8)


def _encode(stored: np.ndarray, quality: int, orientation: int | None) -> bytes:
    buf = io.BytesIO()
    kwargs = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = orientation
        kwargs["exif"] = exif.tobytes()
    Image.fromarray(stored).save(buf, format="JPEG", quality=quality, **kwargs)
    return buf.getvalue()


def _encode_in_range(
    stored: np.ndarray, quality: int, orientation: int | None
) -> tuple[bytes, int]:
    """Encode, stepping the quality until the file is 3-5 MB (or the quality runs out)."""
    lo, hi = TARGET_BYTES
    for _ in range(12):
        data = _encode(stored, quality, orientation)
        if len(data) < lo and quality < 98:
            quality += 2
        elif len(data) > hi and quality > 50:
            quality -= 3
        else:
            break
    return data, quality


def generate_photos(out_dir: Path, n: int = 100, seed: int = 0) -> list[Path]:
    """``n`` 12 MP JPEGs in ``out_dir`` (made once, then reused); returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = _sources(TRAIN_POOL)
    kind = "train_pool" if sources else "synthetic"
    manifest_path = out_dir / "manifest.json"
    stamp = {"generator": GENERATOR_VERSION, "seed": seed, "source": kind}
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    if {k: manifest.get(k) for k in stamp} != stamp:
        manifest = {**stamp, "photos": {}}
    photos: dict[str, dict] = manifest["photos"]

    paths: list[Path] = []
    quality = 90
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        if sources:
            cls, src = _pick(sources, i, seed)
            rgb = cv2.cvtColor(cv2.imread(str(src), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        else:
            cls, src, rgb = "synthetic", None, _synthetic(rng)
        name = f"photo_{i:04d}_{cls}.jpg"
        path = out_dir / name
        paths.append(path)
        if path.is_file() and name in photos:
            continue
        upright = _to_12mp(rgb, rng)
        sideways = i % SIDEWAYS_EVERY == SIDEWAYS_EVERY - 1
        # Orientation 6 means "turn 90 degrees clockwise to display": store it turned back.
        stored = np.ascontiguousarray(np.rot90(upright, 1)) if sideways else upright
        data, quality = _encode_in_range(stored, quality, 6 if sideways else None)
        path.write_bytes(data)
        photos[name] = {
            "class": cls,
            "source": src.name if src else None,
            "orientation": 6 if sideways else 1,
            "quality": quality,
            "bytes": len(data),
        }
        manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return paths


if __name__ == "__main__":
    import sys
    import time

    start = time.perf_counter()
    made = generate_photos(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 100)
    sizes = [p.stat().st_size for p in made]
    print(
        json.dumps(
            {
                "photos": len(made),
                "mean_mb": round(sum(sizes) / len(sizes) / 1e6, 2),
                "min_mb": round(min(sizes) / 1e6, 2),
                "max_mb": round(max(sizes) / 1e6, 2),
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
    )
