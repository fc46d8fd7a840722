"""The schema on both backends: migrations == models, constraints, types, URL handling."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from smartalbum.config import Settings
from smartalbum.library import db
from smartalbum.library.schema import (
    Base,
    Embedding,
    File,
    Photo,
    to_signed64,
    to_unsigned64,
)

TABLES = {
    "photos",
    "files",
    "embeddings",
    "predictions",
    "corrections",
    "index_errors",
    "index_runs",
    "jobs",
    "job_chunks",
    "job_item_errors",
    "people",
    "face_scans",
    "faces",
    "face_rejections",
    "categories",
    "category_examples",
    "category_heads",
    "category_members",
    "photo_tags",
    "photo_tag_state",
    "job_workers",
}


def _photo(sha: str = "a" * 64, **kw) -> Photo:
    values = {"sha256": sha, "size": 10, "format": "JPEG", "width": 4, "height": 3}
    values.update(kw)
    return Photo(**values)


def test_migrations_create_exactly_the_models(catalog_url):
    engine, _ = db.open_catalog(url=catalog_url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []  # a model changed without a migration fails here
    assert db.current_revision(engine) == db.head_revision() == db.HEAD_REVISION


def test_upgrade_is_idempotent_and_downgrade_removes_everything(catalog_url):
    engine = db.get_engine(url=catalog_url)
    db.upgrade(engine)
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()
    from alembic import command

    cfg = db.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert not TABLES & set(inspect(engine).get_table_names())
    db.upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_unique_keys_reject_duplicates(catalog):
    _, factory = catalog
    with factory() as s:
        s.add(_photo())
        s.commit()
        s.add(_photo())
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()
        pid = s.scalar(select(Photo.id))
        s.add(File(photo_id=pid, path="/x/a.jpg", size=1, mtime_ns=1))
        s.commit()
        s.add(File(photo_id=pid, path="/x/a.jpg", size=1, mtime_ns=2))
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()
        s.add(Embedding(photo_id=pid, backbone_version="v", dim=1, vector=b"\0\0\0\0"))
        s.commit()
        s.add(Embedding(photo_id=pid, backbone_version="v", dim=1, vector=b"\0\0\0\0"))
        with pytest.raises(IntegrityError):
            s.commit()


def test_insert_ignore_is_idempotent(catalog):
    _, factory = catalog
    values = {"sha256": "b" * 64, "size": 1, "format": "PNG", "width": 1, "height": 1}
    with factory() as s:
        assert db.insert_ignore(s, Photo, values, ["sha256"]) is True
        assert db.insert_ignore(s, Photo, values, ["sha256"]) is False
        s.commit()
        assert len(list(s.scalars(select(Photo)))) == 1


def test_foreign_keys_are_enforced(catalog):
    _, factory = catalog
    with factory() as s:
        s.add(File(photo_id=12345, path="/nowhere.jpg", size=1, mtime_ns=1))
        with pytest.raises(IntegrityError):
            s.commit()


def test_64_bit_hashes_round_trip(catalog):
    _, factory = catalog
    values = [0, 1, 2**63 - 1, 2**63, 2**64 - 1, 0xDEADBEEFCAFEBABE]
    with factory() as s:
        for i, v in enumerate(values):
            s.add(_photo(sha=f"{i:064d}", phash=to_signed64(v)))
        s.commit()
        stored = [to_unsigned64(p) for p in s.scalars(select(Photo.phash).order_by(Photo.id))]
    assert stored == values


def test_big_file_sizes_and_times_fit(catalog):
    _, factory = catalog
    with factory() as s:
        s.add(_photo(size=2**40))
        s.flush()
        pid = s.scalar(select(Photo.id))
        s.add(File(photo_id=pid, path="/big.tif", size=2**40, mtime_ns=1_750_000_000_123_456_789))
        s.commit()
        row = s.scalars(select(File)).one()
    assert row.size == 2**40 and row.mtime_ns == 1_750_000_000_123_456_789


def test_sqlite_runs_in_wal_mode(tmp_path):
    engine, _ = db.open_catalog(url=f"sqlite:///{tmp_path / 'sub' / 'c.sqlite3'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert (tmp_path / "sub" / "c.sqlite3").is_file()
    db.dispose_all()


def test_catalog_url_from_settings(tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "d")
    assert db.default_url(settings) == f"sqlite:///{tmp_path / 'd' / 'catalog.sqlite3'}"
    pg = Settings(data_dir=tmp_path, database_url="postgresql://u:p@h:5433/album")
    assert db.default_url(pg) == "postgresql+psycopg://u:p@h:5433/album"
    assert db.normalize_url("postgres://h/db") == "postgresql+psycopg://h/db"
    assert db.normalize_url("postgresql+psycopg://h/db") == "postgresql+psycopg://h/db"
    assert db.normalize_url("sqlite:////x.db") == "sqlite:////x.db"


def test_database_url_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SMARTALBUM_DATABASE_URL", "postgresql://me@db.example/photos")
    assert db.default_url(Settings()) == "postgresql+psycopg://me@db.example/photos"
