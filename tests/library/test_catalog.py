"""The catalog's query API on both backends: records, filters, corrections, the web cache."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from sqlalchemy import select

from smartalbum.library import catalog as cat
from smartalbum.library.schema import (
    Correction,
    Embedding,
    File,
    Photo,
    Prediction,
    to_signed64,
)
from smartalbum.web.cache import CacheKey, LRUResultCache


def _add_photo(s, i: int, *, paths=(), missing=(), label=None, version="h1", vector=None):
    photo = Photo(
        sha256=hashlib.sha256(str(i).encode()).hexdigest(),
        size=100 + i,
        format="JPEG",
        width=40,
        height=30,
        phash=to_signed64(2**63 + i),
        latitude=43.0,
        longitude=11.0,
        camera_make="NIKON",
        camera_model="NIKON D750",
    )
    s.add(photo)
    s.flush()
    for p in paths:
        s.add(File(photo_id=photo.id, path=p, size=1, mtime_ns=1, status="present"))
    for p in missing:
        s.add(File(photo_id=photo.id, path=p, size=1, mtime_ns=1, status="missing"))
    if vector is not None:
        s.add(
            Embedding(
                photo_id=photo.id,
                backbone_version="bb",
                dim=len(vector),
                vector=cat.vector_to_bytes(np.asarray(vector, np.float32)),
            )
        )
    if label is not None:
        s.add(
            Prediction(
                photo_id=photo.id,
                head="scene",
                head_version=version,
                backbone_version="bb",
                label=label,
                confidence=0.4,
                uncertain=True,
                probabilities={label: 0.4, "other": 0.6},
            )
        )
    s.flush()
    return photo.id


def test_iter_photos_chunks_filters_and_attaches(catalog):
    _, factory = catalog
    with factory() as s:
        ids = [
            _add_photo(s, i, paths=[f"/lib/{i}.jpg"], label="beach", vector=[i, 1, 2])
            for i in range(7)
        ]
        gone = _add_photo(s, 99, missing=["/lib/gone.jpg"], label="city")
        s.commit()

        records = list(cat.iter_photos(s, backbone_version="bb", head="scene", chunk_size=3))
        assert [r.id for r in records] == ids  # all chunks, in order, no missing-only photo
        r = records[2]
        assert r.paths == ["/lib/2.jpg"] and r.path == "/lib/2.jpg"
        np.testing.assert_array_equal(r.embedding, [2, 1, 2])
        assert r.prediction.label == "beach" and r.label == "beach" and r.uncertain
        assert r.phash == 2**63 + 2  # back to unsigned
        assert r.gps == (43.0, 11.0) and r.camera == "NIKON D750"
        d = r.to_dict()
        assert d["id"] == r.id and d["paths"] == ["/lib/2.jpg"] and d["label"] == "beach"
        assert d["phash"] == f"{2**63 + 2:016x}" and d["prediction"]["confidence"] == 0.4
        assert "embedding" not in d and isinstance(d["created_at"], str)

        everything = list(cat.iter_photos(s, include_missing=True))
        assert [r.id for r in everything] == [*ids, gone]
        assert everything[-1].missing_paths == ["/lib/gone.jpg"] and everything[-1].path is None
        assert everything[0].prediction is None and everything[0].embedding is None

        some = list(cat.iter_photos(s, ids=[ids[5], ids[1], 424242], head="scene"))
        assert [r.id for r in some] == [ids[1], ids[5]]
        assert cat.count_photos(s) == 7 and cat.count_photos(s, include_missing=True) == 8


def test_predictions_by_head_version_latest_by_default(catalog):
    _, factory = catalog
    with factory() as s:
        pid = _add_photo(s, 1, paths=["/a.jpg"], label="beach", version="h1")
        s.add(
            Prediction(
                photo_id=pid,
                head="scene",
                head_version="h2",
                backbone_version="bb",
                label="forest",
                confidence=0.9,
                uncertain=False,
                probabilities={"forest": 0.9},
            )
        )
        s.commit()
        assert cat.get_photo(s, pid, head="scene").label == "forest"  # the newest
        assert cat.get_photo(s, pid, head="scene", head_version="h1").label == "beach"
        assert cat.get_photo(s, pid, head="scene", head_version="h3").prediction is None
        assert cat.get_photo(s, pid, head="other").prediction is None
        assert cat.get_photo(s, 31337) is None


def test_the_latest_correction_wins_over_predictions(catalog):
    _, factory = catalog
    with factory() as s:
        pid = _add_photo(s, 1, paths=["/a.jpg"], label="beach")
        other = _add_photo(s, 2, paths=["/b.jpg"], label="beach")
        s.commit()
        cat.add_correction(s, pid, "forest")
        cat.add_correction(s, pid, " city ", source="web")
        s.commit()
        record = cat.get_photo(s, pid, head="scene")
        assert record.correction == "city" and record.label == "city"
        assert record.uncertain is False and record.prediction.label == "beach"
        assert cat.get_photo(s, other, head="scene").label == "beach"
        assert len(list(s.scalars(select(Correction)))) == 2  # history kept
        assert cat.latest_corrections(s, [pid, other]) == {pid: "city"}
        with pytest.raises(ValueError):
            cat.add_correction(s, pid, "  ")
        with pytest.raises(LookupError):
            cat.add_correction(s, 424242, "x")


def test_lookups_and_stats(catalog):
    _, factory = catalog
    with factory() as s:
        pid = _add_photo(s, 1, paths=["/a.jpg", "/copy/a.jpg"], missing=["/old/a.jpg"])
        s.commit()
        sha = s.get(Photo, pid).sha256
        assert cat.photo_id_for_sha256(s, sha) == pid
        assert cat.photo_id_for_path(s, "/copy/a.jpg") == pid
        assert cat.photo_id_for_path(s, "/nope.jpg") is None
        assert cat.stats(s) == {
            "photos": 1,
            "photos_all": 1,
            "files": 3,
            "files_missing": 1,
            "errors": 0,
            "corrections": 0,
        }
        vectors = cat.load_embeddings(s, [pid], "bb")
        assert vectors == {}


def test_catalog_answers_the_web_cache(catalog, model, make_indexer, library):
    _, factory = catalog
    make_indexer().run([library.root])
    fallback = LRUResultCache(8)
    cache = cat.CatalogResultCache(factory, model, fallback=fallback)
    sha = hashlib.sha256(library.path("2020/red/img_00.jpg").read_bytes()).hexdigest()

    hit = cache.get(CacheKey(sha, model.version, "colours"))
    assert (
        hit is not None
        and hit["label"] == "red"
        and set(hit["probabilities"])
        == {
            "red",
            "green",
            "blue",
        }
    )
    assert cache.get(CacheKey(sha, "another-bundle", "colours")) is None
    unknown = CacheKey("f" * 64, model.version, "colours")
    assert cache.get(unknown) is None
    cache.put(
        unknown,
        {"label": "red", "confidence": 1.0, "uncertain": False, "probabilities": {"red": 1.0}},
    )
    assert cache.get(unknown)["label"] == "red" and len(fallback) == 1  # kept aside


def test_catalog_cache_stores_a_prediction_for_a_known_photo(catalog, model, make_indexer, library):
    """A catalogued photo without this head's prediction: get misses, put stores it in the
    catalog (not in the fallback), and the next get answers from the catalog."""
    _, factory = catalog
    make_indexer().run([library.root])
    sha = hashlib.sha256(library.path("2020/red/img_00.jpg").read_bytes()).hexdigest()
    with factory() as s:
        s.query(Prediction).delete()
        s.commit()
    fallback = LRUResultCache(8)
    cache = cat.CatalogResultCache(factory, model, fallback=fallback)
    key = CacheKey(sha, model.version, "colours")
    assert cache.get(key) is None
    value = {"label": "blue", "confidence": 0.5, "uncertain": True,
             "probabilities": {"red": 0.25, "green": 0.25, "blue": 0.5}}
    cache.put(key, value)
    assert len(fallback) == 0
    with factory() as s:
        assert s.scalar(select(Prediction.label).where(Prediction.head == "colours")) == "blue"
    assert cache.get(key)["label"] == "blue"


def test_catalog_cache_remembers_only_a_bounded_number_of_unknown_photos(catalog, model):
    _, factory = catalog
    cache = cat.CatalogResultCache(factory, model, fallback=LRUResultCache(8))
    cache.UNKNOWN_KEPT = 3
    keys = [CacheKey(f"{i:064x}", model.version, "colours") for i in range(5)]
    for key in keys:
        assert cache.get(key) is None
    assert list(cache._unknown) == [k.sha256 for k in keys[-3:]]  # the newest kept
    value = {"label": "red", "confidence": 1.0, "uncertain": False, "probabilities": {"red": 1.0}}
    cache.put(keys[-1], value)
    assert keys[-1].sha256 not in cache._unknown  # forgotten once used
    assert cache.get(keys[-1])["label"] == "red"
