"""Fixtures for tags and search: a synthetic ImageNet classifier and a small catalog.

``fc`` maps a one-hot embedding to one ImageNet class with near certainty, so a test can
say "this photo is a tabby cat" without any model: embedding ``onehot(CAT)`` -> class 281.
``tagged_catalog`` is a SQLite catalog with a few photos, their files, embeddings, places,
dates and cameras, tagged through that classifier.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from library.catalogs import BACKENDS, temporary_catalog
from smartalbum.library import db
from smartalbum.library.catalog import vector_to_bytes
from smartalbum.library.schema import Embedding, File, Photo, Prediction
from smartalbum.tags.tagger import Tagger

DIM = 16
BACKBONE = "bb-test"
# embedding slot -> ImageNet class
CLASSES = {0: 281, 1: 978, 2: 207, 3: 963, 4: 497, 5: 922, 6: 975, 7: 970, 8: 445}
CAT, BEACH, DOG, PIZZA, CHURCH, MENU, LAKE, MOUNTAIN, BIKINI = range(9)


def make_fc() -> tuple[np.ndarray, np.ndarray]:
    w = np.zeros((DIM, 1000), dtype=np.float32)
    for slot, cls in CLASSES.items():
        w[slot, cls] = 30.0
    return w, np.zeros(1000, dtype=np.float32)


def onehot(*slots: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    for s in slots:
        v[s] = 1.0 / len(slots)
    return v


@pytest.fixture(scope="session")
def fc() -> tuple[np.ndarray, np.ndarray]:
    return make_fc()


@pytest.fixture(scope="session")
def tagger(fc) -> Tagger:
    return Tagger(fc)


#: (name, embedding slots, taken_at, city, country, camera, label)
PHOTOS = [
    ("cat.jpg", (CAT,), datetime(2024, 5, 12, 10), "Florence", "IT", "Canon", "pets"),
    ("beach.jpg", (BEACH,), datetime(2023, 7, 20, 15), "Rimini", "IT", "NIKON", "landscape"),
    ("dog.jpg", (DOG,), datetime(2023, 8, 2, 9), "Bath", "GB", "Canon", "pets"),
    ("pizza.jpg", (PIZZA,), datetime(2023, 3, 1, 20), "Florence", "IT", "Apple", "food"),
    ("church.jpg", (CHURCH,), datetime(2022, 12, 24, 18), "Florence", "IT", "Apple", "architecture"),
    ("receipt.jpg", (MENU,), None, None, None, None, "documents"),
    ("lake.jpg", (LAKE,), datetime(2026, 8, 15, 11), "Como", "IT", "NIKON", "landscape"),
]  # fmt: skip


def _jpeg(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (40 * i % 256, 90, 200 - 20 * i)).save(buf, "JPEG")
    return buf.getvalue()


def fill_catalog(factory, tagger: Tagger | None, folder: Path) -> dict[str, int]:
    """Insert PHOTOS (photo, file, embedding, prediction); tag them; name -> photo id."""
    from smartalbum.tags.store import tag_catalog

    ids = {}
    with factory() as s:
        for i, (name, slots, taken, city, country, camera, label) in enumerate(PHOTOS):
            path = folder / name
            content = _jpeg(i)  # a real picture: thumbnails work, organise verifies hashes
            path.write_bytes(content)
            photo = Photo(
                sha256=hashlib.sha256(content).hexdigest(), size=len(content), format="JPEG",
                width=10, height=10,
                taken_at=taken, city=city, country=country, camera_make=camera,
            )  # fmt: skip
            s.add(photo)
            s.flush()
            st = path.stat()
            s.add(File(photo_id=photo.id, path=str(path), size=st.st_size, mtime_ns=st.st_mtime_ns))
            s.add(
                Embedding(
                    photo_id=photo.id, backbone_version=BACKBONE, dim=DIM,
                    vector=vector_to_bytes(onehot(*slots)),
                )
            )  # fmt: skip
            s.add(
                Prediction(
                    photo_id=photo.id, head="default", head_version="h1",
                    backbone_version=BACKBONE, label=label, confidence=0.9,
                    uncertain=False, probabilities={label: 0.9},
                )
            )  # fmt: skip
            ids[name] = photo.id
        s.commit()
    if tagger is not None:
        tag_catalog(factory, tagger, BACKBONE)
    return ids


@pytest.fixture(params=BACKENDS)
def catalog_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    """(url, session factory) of an empty catalog, on SQLite and on PostgreSQL."""
    with temporary_catalog(request.param, tmp_path) as url:
        _, factory = db.open_catalog(url=url)
        yield url, factory
        db.dispose_all()


@pytest.fixture
def tagged_catalog(catalog_factory, tagger, tmp_path: Path):
    """(url, factory, name -> photo id) of a tagged catalog."""
    url, factory = catalog_factory
    folder = tmp_path / "photos"
    folder.mkdir()
    return url, factory, fill_catalog(factory, tagger, folder)
