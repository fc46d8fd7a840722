"""The embedding-matrix cache: appends new embeddings, rebuilds after deletions."""

from __future__ import annotations

import numpy as np
from sqlalchemy import delete

from categories.conftest import BACKBONE, fill_catalog
from smartalbum.categories import matrix as m
from smartalbum.library.db import session_scope
from smartalbum.library.schema import Photo


def test_cache_appends_and_rebuilds(make_catalog, tmp_path):
    cat = make_catalog([10, 10], dim=8)
    root = tmp_path / "mcache"
    with cat.factory() as s:
        first = m.embedding_matrix(s, BACKBONE, cache_root=root)
    assert len(first) == 20
    np.testing.assert_allclose(first.rows(cat.photo_ids[:3])[1], cat.vectors[:3], rtol=1e-6)

    new = fill_catalog(cat.factory, np.ones((5, 8), np.float32), start=100)
    m.clear_memory()  # the next read starts from the .npy files
    with cat.factory() as s:
        grown = m.embedding_matrix(s, BACKBONE, cache_root=root)
    assert len(grown) == 25 and set(new.tolist()) <= set(grown.photo_ids.tolist())

    with session_scope(cat.factory) as s:
        s.execute(delete(Photo).where(Photo.id == int(cat.photo_ids[0])))
    with cat.factory() as s:
        rebuilt = m.embedding_matrix(s, BACKBONE, cache_root=root)
    assert len(rebuilt) == 24 and int(cat.photo_ids[0]) not in set(rebuilt.photo_ids.tolist())
    found, _ = rebuilt.rows([int(cat.photo_ids[0]), int(cat.photo_ids[1])])
    assert found.tolist() == [int(cat.photo_ids[1])]
    with cat.factory() as s:
        assert len(m.embedding_matrix(s, "another-backbone")) == 0
