"""Tags in the catalog: automatic tagging, user edits that win, the indexing hook."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from smartalbum.library.schema_tags import PhotoTag, PhotoTagState
from smartalbum.tags.store import (
    PhotoNotFoundError,
    add_tag,
    photo_tags,
    remove_tag,
    removed_tags,
    tag_catalog,
    untagged_ids,
)
from smartalbum.tags.tagger import Tagger, load_vocabulary, parse_vocabulary
from tags.conftest import BACKBONE


def _words(factory, pid):
    with factory() as s:
        return [t.tag for t in photo_tags(s, [pid])[pid]]


def test_tagging_stores_a_few_keywords_per_photo(tagged_catalog, tagger):
    _, factory, ids = tagged_catalog
    assert _words(factory, ids["cat.jpg"])[:2] == ["cat", "pet"]
    assert "beach" in _words(factory, ids["beach.jpg"])
    assert "church" in _words(factory, ids["church.jpg"])
    with factory() as s:
        states = s.scalars(select(PhotoTagState)).all()
        assert len(states) == len(ids)
        assert {st.vocabulary_version for st in states} == {tagger.version}
        assert untagged_ids(s, tagger, BACKBONE) == []
        rows = s.scalars(select(PhotoTag)).all()
        assert all(r.source == "auto" and r.vocabulary_version == tagger.version for r in rows)


def test_tagging_is_idempotent_and_a_new_vocabulary_retags(tagged_catalog, fc):
    _, factory, ids = tagged_catalog
    tagger = Tagger(fc)
    with factory() as s:
        before = s.scalar(select(func.count(PhotoTag.id)))
    assert tag_catalog(factory, tagger, BACKBONE) == 0  # all current: nothing to do
    assert tag_catalog(factory, tagger, BACKBONE, force=True) == len(ids)
    with factory() as s:
        assert s.scalar(select(func.count(PhotoTag.id))) == before

    text = load_vocabulary().rules  # a vocabulary with one rule changed
    from smartalbum.tags.tagger import VOCABULARY_PATH

    changed = VOCABULARY_PATH.read_text().replace(
        '"words": ["cat", "pet", "animal"]', '"words": ["kitty", "pet", "animal"]'
    )
    new = Tagger(fc, parse_vocabulary(changed))
    assert new.version != tagger.version and text
    assert tag_catalog(factory, new, BACKBONE) == len(ids)
    assert "kitty" in _words(factory, ids["cat.jpg"])
    assert "cat" not in _words(factory, ids["cat.jpg"])


def test_user_edits_win_over_retagging(tagged_catalog, tagger):
    _, factory, ids = tagged_catalog
    cat = ids["cat.jpg"]
    with factory() as s:
        assert add_tag(s, cat, "  Tiger ") == "tiger"
        assert add_tag(s, cat, "pet") == "pet"  # an automatic tag confirmed by the user
        assert remove_tag(s, cat, "Cat") is True
        assert remove_tag(s, cat, "unicorn") is False
        s.commit()
    tag_catalog(factory, tagger, BACKBONE, force=True)
    with factory() as s:
        tags = photo_tags(s, [cat])[cat]
        assert [t.tag for t in tags][:2] in (["pet", "tiger"], ["tiger", "pet"])
        assert {t.source for t in tags if t.tag in ("tiger", "pet")} == {"user"}
        assert "cat" not in [t.tag for t in tags]
        assert removed_tags(s, cat) == ["cat"]
        add_tag(s, cat, "cat")  # adding it back undoes the removal
        s.commit()
        assert "cat" in [t.tag for t in photo_tags(s, [cat])[cat]]


def test_edits_of_unknown_photos_and_bad_tags_are_typed_errors(tagged_catalog):
    _, factory, ids = tagged_catalog
    with factory() as s:
        with pytest.raises(PhotoNotFoundError):
            add_tag(s, 999_999, "x")
        with pytest.raises(PhotoNotFoundError):
            remove_tag(s, 999_999, "x")
        with pytest.raises(ValueError):
            add_tag(s, ids["cat.jpg"], "   ")


def test_indexing_tags_new_photos_from_the_bundle_classifier(tmp_path, imagekit, tiny_bundle_copy):
    """library.indexer runs the tagger after predicting, with no extra backbone run."""
    from smartalbum.library import db
    from smartalbum.library.indexer import Indexer
    from smartalbum.model.engine import Engine

    bundle_dir = tiny_bundle_copy  # gets an imagenet_fc.npz
    engine = Engine.load(bundle_dir, threads=1)
    dim = engine.embedding_dim
    rng = np.random.default_rng(0)
    np.savez(bundle_dir / "imagenet_fc.npz", weight=rng.normal(0, 3, (dim, 1000)).astype("f2"),
             bias=np.zeros(1000, "f2"))  # fmt: skip
    engine = Engine.load(bundle_dir, threads=1)
    photos = tmp_path / "photos"
    for i in range(3):
        imagekit.write(f"photos/p{i}.jpg", imagekit.marker(40 + i, 30))
    _, factory = db.open_catalog(url=f"sqlite:///{tmp_path / 'c.sqlite3'}")
    Indexer(factory, engine).run([photos])
    with factory() as s:
        assert s.scalar(select(func.count(PhotoTagState.photo_id))) == 3


def _auto_tags(factory) -> list[tuple[int, str, float]]:
    with factory() as s:
        return sorted(
            (r.photo_id, r.tag, round(r.confidence, 4))
            for r in s.scalars(select(PhotoTag).where(PhotoTag.source == "auto"))
        )


def test_the_index_hook_tags_from_memory_exactly_as_from_the_catalog(
    tmp_path, imagekit, monkeypatch
):
    """The tags hook (smartalbum.tags.hooks) tags the new photos from the embeddings the
    run still holds: no vector is read back, and the tags are the ones tag_catalog
    computes from the stored vectors; photos tagged before are left alone."""
    from bundles import make_tiny_bundle
    from smartalbum.library import catalog, db
    from smartalbum.library.indexer import Indexer
    from smartalbum.model.engine import Engine
    from smartalbum.tags import store
    from smartalbum.tags.store import tagger_for

    bundle_dir = tmp_path / "bundle"
    make_tiny_bundle(bundle_dir)
    dim = Engine.load(bundle_dir, threads=1).embedding_dim
    rng = np.random.default_rng(1)
    np.savez(bundle_dir / "imagenet_fc.npz", weight=rng.normal(0, 3, (dim, 1000)).astype("f2"),
             bias=np.zeros(1000, "f2"))  # fmt: skip
    engine = Engine.load(bundle_dir, threads=1)
    for i in range(6):
        imagekit.write(f"photos/p{i}.jpg", imagekit.scene(64, 48, seed=i))
    _, factory = db.open_catalog(url=f"sqlite:///{tmp_path / 'c.sqlite3'}")
    reads: list[int] = []
    original = catalog.load_embeddings

    def spy(session, ids, version):
        reads.extend(ids)
        return original(session, ids, version)

    monkeypatch.setattr(store, "load_embeddings", spy)
    summary = Indexer(factory, engine, batch_size=4).run([tmp_path / "photos"])
    assert summary.new == 6 and reads == []  # tagged from memory
    from_memory = _auto_tags(factory)
    assert from_memory and {pid for pid, _, _ in from_memory} <= set(range(1, 7))
    tagger = tagger_for(engine.bundle)
    backbone = catalog.model_key(engine).backbone_version
    assert tag_catalog(factory, tagger, backbone, force=True) == 6
    assert _auto_tags(factory) == from_memory
    imagekit.write("photos/p6.jpg", imagekit.scene(64, 48, seed=6))
    Indexer(factory, engine, batch_size=4).run([tmp_path / "photos"])
    assert reads == list(range(1, 7))  # only tag_catalog(force=True) read vectors back
    with factory() as s:
        assert s.scalar(select(func.count(PhotoTagState.photo_id))) == 7
