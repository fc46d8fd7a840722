"""Generated photos and a counting engine for the catalog tests (importable helpers)."""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, TiffImagePlugin

from smartalbum.model.engine import Engine

R = TiffImagePlugin.IFDRational


class CountingEngine(Engine):
    """An engine that counts backbone runs (photos) and head evaluations (embeddings)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.embedded = 0
        self.head_rows = 0

    def embed(self, images):
        self.embedded += len(images)
        return super().embed(images)

    def classify_embeddings(self, embeddings, head=None):
        self.head_rows += len(embeddings)
        return super().classify_embeddings(embeddings, head)

    def reset(self) -> None:
        self.embedded = self.head_rows = 0


# --------------------------------------------------------------------------- photos

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}


def picture(
    colour: tuple[int, int, int], seed: int, size: tuple[int, int] = (160, 120)
) -> np.ndarray:
    """A textured picture dominated by ``colour``; different seeds give different photos."""
    rng = np.random.default_rng(seed)
    w, h = size
    image = np.empty((h, w, 3), dtype=np.float32)
    image[:] = colour
    blocks = rng.normal(0, 25, size=(6, 8, 3)).astype(np.float32)
    image += np.kron(blocks, np.ones((h // 6 + 1, w // 8 + 1, 1), np.float32))[:h, :w]
    image += rng.normal(0, 6, size=image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def exif_block(
    *,
    when: str | None = None,
    offset: str | None = None,
    make: str | None = None,
    model: str | None = None,
    gps: tuple[float, float] | None = None,
    altitude: float | None = None,
) -> Image.Exif:
    """EXIF as a camera writes it: date in the Exif IFD, GPS as DMS rationals with refs."""
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if when or offset:
        sub = exif.get_ifd(0x8769)
        if when:
            sub[0x9003] = when
        if offset:
            sub[0x9011] = offset
    if gps is not None or altitude is not None:
        ifd = exif.get_ifd(0x8825)
        if gps is not None:
            lat, lon = gps
            ifd[1], ifd[2] = ("N" if lat >= 0 else "S"), _dms(abs(lat))
            ifd[3], ifd[4] = ("E" if lon >= 0 else "W"), _dms(abs(lon))
        if altitude is not None:
            ifd[5] = b"\x01" if altitude < 0 else b"\x00"
            ifd[6] = R(round(abs(altitude) * 100), 100)
    return exif


def _dms(value: float) -> tuple[R, R, R]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return (R(degrees, 1), R(minutes, 1), R(round(seconds * 10000), 10000))


def encode(image: np.ndarray, fmt: str = "JPEG", exif: Image.Exif | None = None) -> bytes:
    buf = io.BytesIO()
    kwargs = {"quality": 90} if fmt in ("JPEG", "WEBP") else {}
    if exif is not None:
        kwargs["exif"] = exif.tobytes()
    Image.fromarray(image).save(buf, fmt, **kwargs)
    return buf.getvalue()


@dataclass
class Library:
    """A generated photo folder and what the tests know about it."""

    root: Path
    photos: dict[str, str]  # relative path -> expected colour label ("" for non-colour)
    duplicates: list[tuple[str, str]]  # pairs of relative paths with identical bytes
    bad: list[str]  # relative paths that cannot be indexed

    def path(self, rel: str) -> Path:
        return self.root / rel

    @property
    def good(self) -> list[str]:
        return sorted(self.photos)

    @property
    def distinct(self) -> int:
        """Number of different photos (exact duplicates counted once)."""
        return len(self.photos) - len(self.duplicates)


def make_library(root: Path) -> Library:
    """~20 small photos in nested folders: three colours, two exact duplicates, one photo
    with full EXIF (date, offset, camera, GPS in Arezzo), a PNG, and two bad files."""
    root.mkdir(parents=True, exist_ok=True)
    photos: dict[str, str] = {}
    for i in range(18):
        label = list(COLOURS)[i % 3]
        rel = f"{2020 + i % 2}/{label}/img_{i:02d}.jpg"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(encode(picture(COLOURS[label], seed=i)))
        photos[rel] = label
    exif = exif_block(
        when="2024:05:24 09:15:00",
        offset="+02:00",
        make="NIKON",
        model="COOLPIX P6000",
        gps=(43.4674, 11.8851),
        altitude=296.5,
    )
    (root / "trip").mkdir()
    (root / "trip/arezzo.jpg").write_bytes(encode(picture(COLOURS["green"], 100), exif=exif))
    photos["trip/arezzo.jpg"] = "green"
    (root / "trip/flat.png").write_bytes(encode(picture(COLOURS["blue"], 101), "PNG"))
    photos["trip/flat.png"] = "blue"
    duplicates = [("2020/red/img_00.jpg", "copies/red_copy.jpg"), ("trip/flat.png", "copies/b.png")]
    (root / "copies").mkdir()
    for src, dst in duplicates:
        shutil.copyfile(root / src, root / dst)
        photos[dst] = photos[src]
    good = (root / "2021/green/img_01.jpg").read_bytes()
    (root / "trip/truncated.jpg").write_bytes(good[: len(good) // 3])
    (root / "notes.jpg").write_text("not a photo at all\n")
    return Library(
        root=root, photos=photos, duplicates=duplicates, bad=["notes.jpg", "trip/truncated.jpg"]
    )
