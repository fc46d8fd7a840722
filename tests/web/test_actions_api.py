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
    paths = [
        m["path"]
        for g in client.get("/api/v1/duplicates").get_json()["groups"]
        for m in g["members"]
    ]
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


# -- the drop page's "Add to library" ------------------------------------------------------


@pytest.fixture
def add_client(make_settings, photo):
    from smartalbum.web import create_app

    settings = make_settings()
    app = create_app(settings)
    return app.test_client(), settings


def test_add_to_library_copies_without_overwriting_and_indexes(
    add_client, photo, multipart
) -> None:
    client, settings = add_client
    red, green = photo("red"), photo("green")
    resp = client.post(
        "/api/v1/library/photos", data=multipart((red, "holiday/red.jpg"), (green, "green.jpg"))
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    folder = Path(body["folder"])
    assert folder.parent == settings.data_dir / "library" / "Dropped"
    assert body["added"] == 2 and body["failed"] == 0
    first = {p["filename"]: p for p in body["photos"]}
    assert Path(first["holiday/red.jpg"]["path"]) == folder / "red.jpg"
    assert (folder / "red.jpg").read_bytes() == red
    for p in body["photos"]:
        assert isinstance(p["photo_id"], int)
        detail = client.get(f"/api/v1/photos/{p['photo_id']}").get_json()
        assert detail["label"] == ("red" if p["filename"].endswith("red.jpg") else "green")
    listed = client.get("/api/v1/photos?limit=10").get_json()["items"]
    assert {i["id"] for i in listed} == {p["photo_id"] for p in body["photos"]}

    # the same bytes again: reused, not copied; other bytes of a taken name: "red (1).jpg"
    blue = photo("blue")
    again = client.post(
        "/api/v1/library/photos", data=multipart((red, "red.jpg"), (blue, "red.jpg"))
    )
    body2 = again.get_json()
    assert [p["status"] for p in body2["photos"]] == ["already", "added"]
    assert body2["photos"][0]["photo_id"] == first["holiday/red.jpg"]["photo_id"]
    assert Path(body2["photos"][1]["path"]) == folder / "red (1).jpg"
    assert (folder / "red.jpg").read_bytes() == red  # never overwritten
    assert (folder / "red (1).jpg").read_bytes() == blue
    assert sorted(p.name for p in folder.iterdir()) == ["green.jpg", "red (1).jpg", "red.jpg"]

    # only photos go in: a PDF is refused, not written
    pdf = client.post(
        "/api/v1/library/photos",
        data=multipart((b"%PDF-1.4 not a photo", "doc.pdf"), (green, "green.jpg")),
    ).get_json()
    assert [p["status"] for p in pdf["photos"]] == ["error", "already"]
    assert pdf["failed"] == 1 and not (folder / "doc.pdf").exists()


def test_add_to_library_into_a_named_folder_inside_the_roots(
    make_settings, photo, multipart, tmp_path
) -> None:
    from smartalbum.web import create_app

    settings = make_settings()
    allowed = tmp_path / "photos"
    settings.jobs.roots = [allowed]
    client = create_app(settings).test_client()
    inside = client.post(
        "/api/v1/library/photos",
        data=multipart((photo("red"), "a.jpg"), folder=str(allowed / "New")),
    )
    assert inside.status_code == 200, inside.get_data(as_text=True)
    assert (allowed / "New" / "a.jpg").read_bytes() == photo("red")
    outside = client.post(
        "/api/v1/library/photos",
        data=multipart((photo("red"), "a.jpg"), folder=str(tmp_path / "elsewhere")),
    )
    assert outside.status_code == 400 and outside.get_json()["code"] == "path_not_allowed"
    assert not (tmp_path / "elsewhere").exists()
    relative = client.post(
        "/api/v1/library/photos", data=multipart((photo("red"), "a.jpg"), folder="rel")
    )
    assert relative.status_code == 400


def test_a_resolution_is_undone_by_the_cli_rollback(
    dup_client, photo_library, sqlite_catalog_url
) -> None:
    from click.testing import CliRunner

    from smartalbum.cli.app import main

    client, _ = dup_client
    before = {p: _digest(p) for p in photo_library.root.rglob("*") if p.is_file()}
    group = client.get("/api/v1/duplicates?near=false").get_json()["groups"][0]
    keep = group["members"][0]
    body = client.post(
        "/api/v1/duplicates/resolve", json={"photo_id": keep["photo_id"], "path": keep["path"]}
    ).get_json()
    [journal] = Path(body["folder"]).glob(".smartalbum-organize-*.jsonl")
    result = CliRunner().invoke(
        main, ["organize", "--rollback", str(journal), "--database-url", sqlite_catalog_url]
    )
    assert result.exit_code == 0, result.output
    after = {p: _digest(p) for p in photo_library.root.rglob("*") if p.is_file()}
    assert after == before
    assert client.get("/api/v1/duplicates?near=false").get_json()["total"] == len(
        photo_library.duplicates
    )
