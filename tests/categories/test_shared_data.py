"""A category taught on real photos (../shared/data/train_pool; skipped when absent).

"food" is a class the seed's default head (seed3: landscape, people, architecture) never
saw: 10 examples are enough to sort the held-back food photos from the other classes.
"""

from __future__ import annotations

import numpy as np
import pytest

from categories.conftest import fill_catalog
from smartalbum.categories.query import members
from smartalbum.categories.teach import Teacher
from smartalbum.library import db

PER_CLASS = 24


@pytest.mark.slow
def test_food_from_ten_examples_on_real_photos(shared_data, tmp_path):
    from smartalbum.imaging.decode import load_photo
    from smartalbum.model.engine import Engine

    engine = Engine.load(None, threads=1, batch_size=16)
    classes = ["food", "landscape", "people", "architecture", "pets"]
    images, labels = [], []
    for cls in classes:
        files = sorted((shared_data / "train_pool" / cls).iterdir())
        rng = np.random.default_rng(len(cls))  # a few dishes, breeds, places of each class
        files = [files[i] for i in rng.choice(len(files), PER_CLASS, replace=False)]
        images += [load_photo(f, max_side=256, digest=False).image for f in files]
        labels += [cls] * len(files)
    vectors = engine.embed(images)
    labels = np.array(labels)

    url = f"sqlite:///{tmp_path / 'real.sqlite3'}"
    _, factory = db.open_catalog(url=url)
    bv = engine.bundle.backbone_version
    ids = fill_catalog(factory, vectors, backbone=bv)
    teacher = Teacher(factory, bv)
    food = ids[labels == "food"]
    teacher.create("food", food[:10].tolist())
    with factory() as s:
        got = {r["photo_id"] for r in members(s, "food")}
    held = set(food[10:].tolist())
    others = set(ids[labels != "food"].tolist())
    assert len(got & held) / len(held) >= 0.8  # chance: a fifth of the photos
    assert len(got & others) / len(others) <= 0.1
    db.dispose_all()
