"""Teaching a category from a few examples over stored embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from library.catalogs import BACKENDS
from smartalbum.categories import store
from smartalbum.categories.errors import CategoryExists, CategoryNotFound, NotEnoughExamples
from smartalbum.categories.query import members
from smartalbum.library.db import session_scope


def member_ids(cat, name: str) -> set[int]:
    with cat.factory() as s:
        return {r["photo_id"] for r in members(s, name)}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n_examples", [5, 20])
def test_category_from_a_few_examples_sorts_held_back_photos(make_catalog, backend, n_examples):
    cat = make_catalog([150, 150, 150, 150], backend=backend, dim=32, spread=0.6)
    target = cat.of(2)
    examples = target[:n_examples].tolist()
    result = cat.teacher.create("sunsets", examples)
    assert result["version"] == 1 and result["examples"] == n_examples
    assert result["resort"]["scored"] == 600

    got = member_ids(cat, "sunsets")
    held_in = set(target[n_examples:].tolist())
    held_out = set(cat.photo_ids.tolist()) - set(target.tolist())
    recall = len(got & held_in) / len(held_in)
    false_positive_rate = len(got & held_out) / len(held_out)
    assert recall > 0.8, recall  # chance would be 0.25 of photos in, whatever their class
    assert false_positive_rate < 0.1, false_positive_rate
    assert set(examples) <= got


def test_counter_examples_and_typed_errors(make_catalog):
    cat = make_catalog([60, 60])
    a, b = cat.of(0), cat.of(1)
    with pytest.raises(NotEnoughExamples):
        cat.teacher.create("one", [int(a[0])])
    cat.teacher.create("cars", a[:5].tolist(), b[:5].tolist(), description="my car")
    with pytest.raises(CategoryExists):
        cat.teacher.create("cars", a[:5].tolist())
    with cat.factory() as s:
        with pytest.raises(CategoryNotFound):
            store.get_category(s, "nope")
        summary = store.summary(s, store.get_category(s, "cars"))
    assert summary["examples"] == 5 and summary["counter_examples"] == 5
    assert summary["description"] == "my car"
    assert not set(b[:5].tolist()) & member_ids(cat, "cars")


def test_versions_restore_export_import_delete(make_catalog):
    cat = make_catalog([80, 80, 80])
    a, b = cat.of(0), cat.of(1)
    cat.teacher.create("garden", a[:6].tolist())
    cat.teacher.add_examples("garden", a[6:12].tolist(), b[:4].tolist())
    with cat.factory() as s:
        category = store.get_category(s, "garden")
        assert [v.version for v in store.versions(s, category)] == [1, 2]
        assert store.active_version(s, category).version == 2
    assert cat.teacher.restore("garden", 1)["version"] == 1
    with cat.factory() as s:
        doc = store.export_category(s, "garden")
    assert doc["format"] == "smartalbum-category/1" and doc["version"] == 1
    assert len(doc["examples"]) == 16
    before = member_ids(cat, "garden")

    imported = cat.teacher.import_category(doc, name="garden2")
    assert imported["matched_examples"] == 16
    assert member_ids(cat, "garden2") == before  # same head, same labels, same members

    # A head fitted on another backbone is refitted from the examples this catalog holds.
    cat.teacher.import_category({**doc, "backbone_version": "other"}, name="garden3")
    with cat.factory() as s:
        assert store.active_version(s, store.get_category(s, "garden3")).reason == "import"

    with session_scope(cat.factory) as s:
        store.delete_category(s, "garden")
    with cat.factory() as s:
        assert [c.name for c in store.all_categories(s)] == ["garden2", "garden3"]
        from smartalbum.library.schema import Photo

        assert s.query(Photo).count() == 240  # photos are never deleted with a category


def test_invalid_names_and_export_files(make_catalog):
    from smartalbum.categories.errors import InvalidCategory

    cat = make_catalog([20, 20])
    for bad in ("", "a/b", "x" * 200, ".."):
        with pytest.raises(InvalidCategory):
            cat.teacher.create(bad, cat.of(0)[:3].tolist())
    with pytest.raises(InvalidCategory):
        cat.teacher.import_category({"format": "nope"})


@pytest.mark.slow
def test_resort_of_a_large_catalog_runs_no_backbone(make_catalog, monkeypatch):
    """50,000 photos re-sorted from stored embeddings: any backbone run would raise."""
    import onnxruntime

    from smartalbum.model.engine import Engine

    def forbidden(*_a, **_k):
        raise AssertionError("the backbone must not run for a category")

    monkeypatch.setattr(onnxruntime, "InferenceSession", forbidden)
    monkeypatch.setattr(Engine, "run_batch", forbidden)
    monkeypatch.setattr(Engine, "embed", forbidden)
    cat = make_catalog([25_000, 25_000], dim=16, spread=0.7)
    result = cat.teacher.create("big", cat.of(1)[:10].tolist())
    assert result["resort"]["scored"] == 50_000
    got = member_ids(cat, "big")
    share = len(got & set(cat.of(1).tolist())) / 25_000
    assert share > 0.9 and len(got - set(cat.of(1).tolist())) < 2500
    # a second re-sort reads the cached matrix (memory, then the .npy files)
    with cat.factory() as s:
        assert len(cat.teacher.matrix(s)) == 50_000
    assert np.load(next(cat.teacher.cache_root.rglob("ids.npy"))).shape == (50_000,)
