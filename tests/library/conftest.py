"""Fixtures for the catalog tests: both real backends, the tiny model, a generated library.

``catalog_url`` is parametrised over SQLite and PostgreSQL, so every test that uses it
runs on both (see ``catalogs.py`` for how PostgreSQL is found, skipped or required).
``model`` is an engine over ``tests/bundles.py``'s tiny bundle whose backbone and head
calls are counted, so tests can assert that a run did no model work at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from library.catalogs import BACKENDS, temporary_catalog
from library.photos import CountingEngine, Library, make_library
from smartalbum.library import db
from smartalbum.model.bundle import Bundle


@pytest.fixture(params=BACKENDS)
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with temporary_catalog(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def catalog(catalog_url: str):
    """(engine, session factory) over an upgraded, empty catalog."""
    return db.open_catalog(url=catalog_url)


@pytest.fixture
def model(tiny_bundle_dir: Path) -> CountingEngine:
    return CountingEngine(Bundle.load(tiny_bundle_dir), threads=1, batch_size=8)


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return make_library(tmp_path / "photos")


@pytest.fixture
def make_indexer(catalog, model) -> Callable[..., object]:
    """``make_indexer(heads=None, batch_size=4)`` over the test catalog and counting model."""
    from smartalbum.library.indexer import Indexer

    _, factory = catalog

    def make(**kwargs):
        kwargs.setdefault("batch_size", 4)
        kwargs.setdefault("workers", 2)
        return Indexer(factory, model, **kwargs)

    return make
