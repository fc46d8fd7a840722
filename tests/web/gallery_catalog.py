"""Indexing generated photos into a test catalog (for the gallery and library API tests)."""

from __future__ import annotations

from pathlib import Path

from smartalbum.library import db
from smartalbum.library.indexer import Indexer, IndexSummary
from smartalbum.model.bundle import Bundle
from smartalbum.model.engine import Engine


def index_into(url: str, bundle_dir: Path, *roots: Path) -> IndexSummary:
    """Index ``roots`` into the catalog at ``url`` with the bundle's every head."""
    _, factory = db.open_catalog(url=url)
    engine = Engine(Bundle.load(bundle_dir), threads=1, batch_size=8)
    return Indexer(factory, engine, workers=1, batch_size=8).run(list(roots))
