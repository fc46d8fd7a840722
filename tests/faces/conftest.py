"""Fixtures for face tests: real faces that need no download, and a catalog to scan.

Real faces come from scikit-image's bundled samples: ``astronaut()`` (one identity, a
512 px portrait) and ``lfw_subset()`` (small Labeled-Faces-in-the-Wild crops, other
people; upscaled and padded so the detector sees ~100 px faces). A known-identity set is
built from them by crops, flips, scales and brightness changes of one face vs other faces.
Photos are written as JPEG files and put in the catalog as Photo + File rows (what the
indexer would store), so these tests need no model bundle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from library.catalogs import temporary_catalog
from smartalbum.library import db
from smartalbum.library.schema import File, Photo

skdata = pytest.importorskip("skimage.data", reason="scikit-image (dev extra) gives real faces")


def _lfw_face(i: int) -> np.ndarray:
    grey = (skdata.lfw_subset()[i] * 255).astype(np.uint8)
    grey = cv2.resize(grey, (160, 160), interpolation=cv2.INTER_CUBIC)
    rgb = np.stack([grey] * 3, -1)
    return cv2.copyMakeBorder(rgb, 60, 60, 60, 60, cv2.BORDER_REPLICATE)


def _astronaut() -> np.ndarray:
    """The astronaut's head and shoulders (a 340 x 300 crop of the 512 px picture: small
    enough that every test photo built from it stays quick to scan)."""
    return np.ascontiguousarray(skdata.astronaut()[0:300, 60:400])


@lru_cache(maxsize=1)
def _others() -> tuple[np.ndarray, ...]:
    """Three LFW faces of clearly different people (descriptors > 0.7 apart from each other
    and from the astronaut; LFW repeats some people, so they are chosen by distance)."""
    from smartalbum.faces.cluster import distances
    from smartalbum.faces.detect import detect_faces
    from smartalbum.faces.embed import describe_faces

    astro = _astronaut()
    picked = [describe_faces(astro, detect_faces(astro)[:1])[0]]
    images = []
    for i in range(100):
        image = _lfw_face(i)
        found = detect_faces(image)
        if len(found) != 1:
            continue
        vector = describe_faces(image, found)[0]
        if distances(vector[None], np.stack(picked)).min() > 0.7:
            picked.append(vector)
            images.append(image)
        if len(images) == 3:
            break
    return tuple(images)


@dataclass
class Faces:
    """Real face pictures (RGB uint8) and the augmentations that keep identity."""

    astronaut: np.ndarray
    others: tuple[np.ndarray, ...]

    @staticmethod
    def variants(image: np.ndarray) -> list[np.ndarray]:
        """Same person, different picture: as is, flipped, darker, brighter, smaller, cropped."""
        h, w = image.shape[:2]
        f32 = image.astype(np.float32)
        return [
            image,
            np.ascontiguousarray(image[:, ::-1]),
            np.clip(f32 * 0.6, 0, 255).astype(np.uint8),
            np.clip(f32 * 1.2 + 20, 0, 255).astype(np.uint8),
            cv2.resize(image, (int(w * 0.7), int(h * 0.7)), interpolation=cv2.INTER_AREA),
            np.ascontiguousarray(image[h // 12 :, w // 12 :]),
        ]

    @staticmethod
    def group(*faces: np.ndarray, height: int = 520) -> np.ndarray:
        """Pictures side by side on one canvas (a "group photo")."""
        tiles = [
            cv2.resize(f, (int(f.shape[1] * height / f.shape[0]), height), cv2.INTER_AREA)
            for f in faces
        ]
        return np.ascontiguousarray(np.hstack(tiles))


@pytest.fixture(scope="session")
def faces() -> Faces:
    return Faces(_astronaut(), _others())


def write_jpeg(path: Path, image: np.ndarray, quality: int = 92) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, "JPEG", quality=quality)
    return path


def add_photo(factory, path: Path, taken_at: datetime | None = None) -> int:
    """Put a photo file in the catalog as the indexer would (Photo + present File)."""
    data = path.read_bytes()
    with Image.open(path) as im:
        width, height = im.size
    st = path.stat()
    with factory() as s:
        photo = Photo(
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            format="JPEG",
            width=width,
            height=height,
            taken_at=taken_at,
        )
        s.add(photo)
        s.flush()
        s.add(
            File(
                photo_id=photo.id,
                path=str(path.resolve()),
                size=st.st_size,
                mtime_ns=st.st_mtime_ns,
            )
        )
        s.commit()
        return photo.id


@pytest.fixture
def factory(tmp_path: Path) -> Iterator:
    """A session factory over a fresh SQLite catalog."""
    with temporary_catalog("sqlite", tmp_path) as url:
        yield db.open_catalog(url=url)[1]


@pytest.fixture
def photo_maker(tmp_path: Path) -> Callable[..., int]:
    """``make(factory, image, name, taken_at=None)`` -> photo id of a new catalog photo."""

    def make(fac, image: np.ndarray, name: str, taken_at: datetime | None = None) -> int:
        return add_photo(fac, write_jpeg(tmp_path / "photos" / f"{name}.jpg", image), taken_at)

    return make
