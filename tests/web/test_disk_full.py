"""A full disk anywhere the web app writes is a 507 ``disk_full`` problem, never a 500
(issue 16 item 3): thumbnails (files), corrections (the catalog). The disk is simulated by
making the write raise what the OS raises (ENOSPC) or what SQLite raises."""

from __future__ import annotations

import errno
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import pytest
from gallery_catalog import index_into
from sqlalchemy.exc import OperationalError

from library.photos import Library


@pytest.fixture
def client(sqlite_catalog_url: str, photo_library: Library, tiny_bundle_dir: Path,
           make_library_app):
    index_into(sqlite_catalog_url, tiny_bundle_dir, photo_library.root)
    return make_library_app(sqlite_catalog_url).test_client()


def first_photo(client) -> int:
    return client.get("/api/v1/photos?limit=1").get_json()["items"][0]["id"]


def assert_disk_full(resp) -> None:
    assert resp.status_code == 507, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["code"] == "disk_full"
    assert "/" not in body["detail"]  # no server path in the answer


def test_a_thumbnail_on_a_full_disk_is_507(client, tmp_path, monkeypatch) -> None:
    import smartalbum.library.thumbnails as thumbnails

    @contextmanager
    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))
        yield  # pragma: no cover

    monkeypatch.setattr(thumbnails, "atomic_open", full)
    pid = first_photo(client)
    assert_disk_full(client.get(f"/api/v1/photos/{pid}/thumbnail"))
    monkeypatch.undo()  # space again: the thumbnail is made
    assert client.get(f"/api/v1/photos/{pid}/thumbnail").status_code == 200


def test_a_correction_on_a_full_catalog_disk_is_507(client, monkeypatch) -> None:
    import smartalbum.web.library_api as library_api

    def full(*args, **kwargs):
        raise OperationalError(
            "INSERT INTO corrections", {}, sqlite3.OperationalError("database or disk is full")
        )

    monkeypatch.setattr(library_api, "add_correction", full)
    pid = first_photo(client)
    assert_disk_full(client.patch(f"/api/v1/photos/{pid}", json={"label": "blue"}))
