"""Face crops for pages showing many faces: cut when the photo is scanned (no thumbnail
request needed), served as one JPEG contact sheet (order, cell size, ETag/304, unknown ids
as grey cells, at most 200 ids, behind the API key)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from smartalbum.faces.service import FaceScanner, pending_photos, thumbnail_dir, thumbnail_path
from smartalbum.library import db
from smartalbum.library.schema import Photo
from smartalbum.library.schema_faces import Face
from smartalbum.web import create_app

CELL = 96
GREY = (200, 200, 200)


@pytest.fixture
def scanned(app_settings, faces, photo_maker):
    """(settings, face ids in id order) after a scan of two photos of A and one of B."""

    def make(**web):
        settings = app_settings(web=web)
        factory = db.open_catalog(settings)[1]
        for k, v in enumerate(faces.variants(faces.astronaut)[:2]):
            photo_maker(factory, v, f"a{k}")
        photo_maker(factory, faces.others[0], "b0")
        with factory() as s:
            todo = pending_photos(s)
        FaceScanner(factory, settings.faces, thumbnails=thumbnail_dir(settings.data_dir)).scan(todo)
        with factory() as s:
            ids = list(s.scalars(Face.__table__.select().with_only_columns(Face.id)))
        return settings, factory, sorted(ids)

    yield make
    db.dispose_all()


def _cells(data: bytes, count: int) -> list[np.ndarray]:
    sheet = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
    return [
        sheet[(n // 10) * CELL : (n // 10 + 1) * CELL, (n % 10) * CELL : (n % 10 + 1) * CELL]
        for n in range(count)
    ]


def test_a_scan_cuts_every_face_crop(scanned) -> None:
    settings, factory, ids = scanned()
    assert len(ids) == 3
    with factory() as s:
        for face in s.query(Face):
            sha = s.get(Photo, face.photo_id).sha256
            crop = thumbnail_path(
                thumbnail_dir(settings.data_dir), sha, (face.x, face.y, face.w, face.h)
            )
            assert crop.is_file()
            assert max(Image.open(crop).size) <= 160


def test_sheet_order_cells_etag_and_unknown_ids(scanned) -> None:
    settings, _, ids = scanned()
    client = create_app(settings).test_client()
    asked = [ids[2], 999_999, ids[0], ids[1]]
    resp = client.get("/api/v1/faces/sheet?ids=" + ",".join(map(str, asked)))
    assert resp.status_code == 200 and resp.mimetype == "image/jpeg"
    assert resp.headers["X-Sheet-Cell"] == str(CELL) and resp.headers["X-Sheet-Columns"] == "10"
    assert Image.open(io.BytesIO(resp.data)).size == (4 * CELL, CELL)
    cells = _cells(resp.data, 4)
    # The unknown id is a plain grey cell; the faces are not.
    assert np.abs(cells[1] - np.array(GREY)).max() <= 8
    assert all(cells[n].std() > 10 for n in (0, 2, 3))
    # Order follows the ids asked: swapping them swaps the cells.
    swapped = client.get(f"/api/v1/faces/sheet?ids={ids[0]},{ids[2]}")
    again = _cells(swapped.data, 2)
    assert np.abs(again[0] - cells[2]).mean() < 6 and np.abs(again[1] - cells[0]).mean() < 6
    assert np.abs(again[0] - again[1]).mean() > 10
    # ETag: the same cells revalidate to 304; other cells are another tag.
    etag = resp.headers["ETag"]
    cached = client.get(
        "/api/v1/faces/sheet?ids=" + ",".join(map(str, asked)), headers={"If-None-Match": etag}
    )
    assert cached.status_code == 304 and not cached.data
    assert swapped.headers["ETag"] != etag


def test_sheet_bad_input_and_key(scanned) -> None:
    settings, _, ids = scanned(api_key="k")
    client = create_app(settings).test_client()
    assert client.get(f"/api/v1/faces/sheet?ids={ids[0]}").status_code == 401
    key = {"X-API-Key": "k"}
    assert client.get(f"/api/v1/faces/sheet?ids={ids[0]}", headers=key).status_code == 200
    many = ",".join(str(i) for i in range(1, 202))
    for query in (f"ids={many}", "ids=", "ids=1,,2", "ids=a", "", "ids=1&x=2"):
        resp = client.get(f"/api/v1/faces/sheet?{query}", headers=key)
        assert resp.status_code == 400, query
        assert resp.mimetype == "application/problem+json"
    assert (
        client.get(
            "/api/v1/faces/sheet?ids=" + ",".join(str(i) for i in range(1, 201)), headers=key
        ).status_code
        == 200
    )


def test_missing_crops_are_cut_once_for_a_sheet(scanned, monkeypatch) -> None:
    settings, _, ids = scanned()
    folder = thumbnail_dir(settings.data_dir)
    for crop in folder.rglob("*.jpg"):
        crop.unlink()
    import smartalbum.faces.service as service

    decodes: list[str] = []
    real = service.load_photo
    monkeypatch.setattr(service, "load_photo", lambda p, **kw: decodes.append(p) or real(p, **kw))
    client = create_app(settings).test_client()
    query = "/api/v1/faces/sheet?ids=" + ",".join(map(str, ids))
    first = client.get(query)
    assert first.status_code == 200 and len(decodes) == 3
    assert len(list(folder.rglob("*.jpg"))) == 3
    second = client.get(query)
    assert second.status_code == 200 and len(decodes) == 3  # from the cache now
    assert second.headers["ETag"] == first.headers["ETag"]
    # The single-face endpoint keeps working, from the same cache.
    thumb = client.get(f"/api/v1/faces/{ids[0]}/thumbnail")
    assert thumb.status_code == 200 and len(decodes) == 3
    assert Path(folder).is_dir()
