"""Issue 15's actions over HTTP: a duplicate group resolved (the other copies moved out
through organise's journal) and undone byte for byte; a trip's page; home set on the page
(kept in the catalog) with its place name; a town found by name."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from gallery_catalog import index_into
from test_trips_view import AREZZO, MILAN, trip_library, trips_app  # noqa: F401 - fixtures

from library.photos import Library


@pytest.fixture
def dup_client(sqlite_catalog_url: str, photo_library: Library, tiny_bundle_dir, make_library_app):
    index_into(sqlite_catalog_url, tiny_bundle_dir, photo_library.root)
    app = make_library_app(sqlite_catalog_url)
    return app.test_client(), app


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_resolve_moves_the_other_copies_and_undo_restores_them(dup_client, photo_library) -> None:
    client, app = dup_client
    before = {p: _digest(p) for p in photo_library.root.rglob("*") if p.is_file()}
    groups = client.get("/api/v1/duplicates?near=false").get_json()["groups"]
    group = next(g for g in groups if len(g["members"]) == 2)
    keep, other = group["members"][1], group["members"][0]  # keep the one not suggested
    photos_before = client.get("/api/v1/stats").get_json()["counts"]["files_missing"]

    resp = client.post(
        "/api/v1/duplicates/resolve", json={"photo_id": keep["photo_id"], "path": keep["path"]}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["moved"] == 1 and body["failed"] == []
    folder = Path(body["folder"])
    data_dir = Path(app.config.get("SMARTALBUM_DATA_DIR", folder.parents[1]))
    assert folder.parent.name == "duplicates" and folder.parent.parent == data_dir
    moved = folder / Path(other["path"]).name
    assert not Path(other["path"]).exists() and Path(keep["path"]).exists()
    assert _digest(moved) == before[Path(other["path"])]
    assert client.get("/api/v1/stats").get_json()["counts"]["files_missing"] == photos_before + 1
    paths = [m["path"] for g in client.get("/api/v1/duplicates").get_json()["groups"] for m in g["members"]]
    assert other["path"] not in paths and keep["path"] not in paths

    undo = client.post(f"/api/v1/duplicates/resolutions/{body['resolution']}/undo")
    assert undo.status_code == 200, undo.get_data(as_text=True)
    assert undo.get_json()["restored"] == 1 and undo.get_json()["conflicts"] == []
    after = {p: _digest(p) for p in photo_library.root.rglob("*") if p.is_file()}
    assert after == before  # every file back at its path, byte-identical, nothing else
    assert not folder.exists()
    assert client.get("/api/v1/stats").get_json()["counts"]["files_missing"] == photos_before
    again = client.post(f"/api/v1/duplicates/resolutions/{body['resolution']}/undo")
    assert again.status_code == 404 and again.get_json()["code"] == "no_resolution"


def test_resolve_refuses_what_is_not_a_group_copy(dup_client) -> None:
    client, _ = dup_client
    resp = client.post("/api/v1/duplicates/resolve", json={"photo_id": 1, "path": "/etc/passwd"})
    assert resp.status_code == 404 and resp.get_json()["code"] == "no_duplicate_copy"
    bad = client.post("/api/v1/duplicates/resolutions/..%2F..%2Fetc/undo")
    assert bad.status_code == 404


def test_trip_page_and_home_set_on_the_page(trips_app) -> None:  # noqa: F811
    client = trips_app.test_client()
    listing = client.get("/api/v1/trips").get_json()
    assert listing["home"]["name"].startswith("Milan")
    [trip] = listing["trips"]
    detail = client.get(f"/api/v1/trips/{trip['id']}")
    assert detail.status_code == 200, detail.get_data(as_text=True)
    body = detail.get_json()
    assert [p["id"] for p in body["photos"]] == trip["photo_ids"]
    assert body["title"] == trip["title"] and body["photos"][0]["thumbnail"]
    assert client.get("/api/v1/trips/nope").get_json()["code"] == "no_trip"
    page = client.get(f"/trips/{trip['id']}")
    assert page.status_code == 200 and b"data-viewer-grid" in page.data

    # home set to Arezzo by a place search: the weekend there is no trip any more
    found = client.get("/api/v1/places?q=Arezzo").get_json()["places"]
    assert found and found[0]["name"].startswith("Arezzo")
    set_home = client.put("/api/v1/trips/home", json={"place": "Arezzo"})
    assert set_home.status_code == 200, set_home.get_data(as_text=True)
    home = set_home.get_json()["home"]
    assert home["source"] == "library" and home["name"].startswith("Arezzo")
    now = client.get("/api/v1/trips").get_json()
    assert now["home"]["source"] == "library" and abs(now["home"]["latitude"] - AREZZO[0]) < 0.1
    assert all("Arezzo" not in t["title"] for t in now["trips"])
    # from a photo's position, then forgotten (learned again)
    by_photo = client.put("/api/v1/trips/home", json={"photo_id": trip["photo_ids"][0]})
    assert by_photo.get_json()["home"]["source"] == "library"
    cleared = client.put("/api/v1/trips/home", json={"clear": True}).get_json()
    assert cleared == {"home": None}
    learned = client.get("/api/v1/trips").get_json()["home"]
    assert learned["source"] == "learned" and abs(learned["latitude"] - MILAN[0]) < 0.1
    assert client.put("/api/v1/trips/home", json={"place": "Nowhereville Xyz"}).status_code == 404
    assert client.put("/api/v1/trips/home", json={}).status_code == 400
