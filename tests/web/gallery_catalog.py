"""Indexing generated photos into a test catalog (for the gallery and library API tests)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from smartalbum.library import db
from smartalbum.library.indexer import Indexer, IndexSummary
from smartalbum.library.schema import File, Photo, Prediction
from smartalbum.model.bundle import Bundle
from smartalbum.model.engine import Engine


def index_into(url: str, bundle_dir: Path, *roots: Path) -> IndexSummary:
    """Index ``roots`` into the catalog at ``url`` with the bundle's every head."""
    _, factory = db.open_catalog(url=url)
    engine = Engine(Bundle.load(bundle_dir), threads=1, batch_size=8)
    return Indexer(factory, engine, workers=1, batch_size=8).run(list(roots))


def fill_rows(
    url: str, rows: list[tuple[datetime | None, str]], head: str = "colours"
) -> list[int]:
    """Photos (taken_at, label predicted by ``head``) with one present copy each, written
    through the schema (no image files); returns their ids in order."""
    _, factory = db.open_catalog(url=url)
    ids = []
    with db.session_scope(factory) as session:
        for n, (taken, label) in enumerate(rows):
            photo = Photo(
                sha256=hashlib.sha256(f"row-{n}".encode()).hexdigest(),
                size=100,
                format="JPEG",
                width=40,
                height=30,
                taken_at=taken,
                taken_at_source="exif" if taken else None,
            )
            session.add(photo)
            session.flush()
            session.add(File(photo_id=photo.id, path=f"/nowhere/{n}.jpg", size=100, mtime_ns=0))
            session.add(
                Prediction(
                    photo_id=photo.id,
                    head=head,
                    head_version="v1",
                    backbone_version="b",
                    label=label,
                    confidence=0.9,
                    uncertain=False,
                    probabilities={label: 0.9},
                )
            )
            ids.append(photo.id)
    return ids
