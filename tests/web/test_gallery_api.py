"""The gallery's API: photos per month (date headers, timeline jumps) and the selection's
bulk actions (label, tags, category examples, organise, export)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from gallery_catalog import fill_rows, index_into

from library.photos import Library
from smartalbum.library import db
from smartalbum.library.schema import Correction

ROWS: list[tuple[datetime | None, str]] = [
    (datetime(2024, 3, 9, 10), "red"),
    (datetime(2024, 3, 2, 10), "blue"),
    (datetime(2024, 1, 20, 8), "red"),
    (datetime(2023, 12, 31, 23, 59), "red"),
    (datetime(2023, 12, 1, 0, 0), "green"),
    (datetime(2021, 6, 15), "blue"),
    (None, "red"),
    (None, "green"),
]


@pytest.fixture
def rows_client(catalog_url, make_library_app):
    ids = fill_rows(catalog_url, ROWS)
    return make_library_app(catalog_url).test_client(), ids, catalog_url


def test_months_count_each_month_newest_first_and_the_undated_last(rows_client) -> None:
    client, _, _ = rows_client
    body = client.get("/api/v1/photos/months").get_json()
    assert body["total"] == len(ROWS)
    got = [(m["year"], m["month"], m["count"]) for m in body["months"]]
    assert got == [(2024, 3, 2), (2024, 1, 1), (2023, 12, 2), (2021, 6, 1), (None, None, 2)]
    # with filters: the label that counts, and a year filter leaves the undated out
    red = client.get("/api/v1/photos/months?label=red").get_json()["months"]
    assert [(m["year"], m["month"], m["count"]) for m in red] == [
        (2024, 3, 1), (2024, 1, 1), (2023, 12, 1), (None, None, 1)
    ]  # fmt: skip
    year = client.get("/api/v1/photos/months?year=2023").get_json()["months"]
    assert [(m["year"], m["month"]) for m in year] == [(2023, 12)]


def test_a_months_cursor_starts_the_listing_at_that_month(rows_client) -> None:
    client, ids, _ = rows_client
    months = client.get("/api/v1/photos/months").get_json()["months"]
    december = next(m for m in months if (m["year"], m["month"]) == (2023, 12))
    page = client.get(f"/api/v1/photos?limit=2&cursor={quote(december['cursor'])}").get_json()
    assert [i["id"] for i in page["items"]] == [ids[3], ids[4]]
    rest = client.get(f"/api/v1/photos?limit=50&cursor={quote(page['next_cursor'])}").get_json()
    assert [i["id"] for i in rest["items"]] == [ids[5], ids[7], ids[6]]
    undated = months[-1]
    page = client.get(f"/api/v1/photos?cursor={quote(undated['cursor'])}").get_json()
    assert [i["id"] for i in page["items"]] == [ids[7], ids[6]]
    # a month's cursor belongs to its filters
    resp = client.get(f"/api/v1/photos?label=red&cursor={quote(december['cursor'])}")
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "cursor"


def test_months_follow_corrections(rows_client) -> None:
    client, ids, _ = rows_client
    assert client.get("/api/v1/photos/months?label=green").get_json()["total"] == 2
    client.post("/api/v1/photos/bulk/label", json={"ids": [ids[0]], "label": "green"})
    assert client.get("/api/v1/photos/months?label=green").get_json()["total"] == 3


def test_bulk_label_records_one_correction_per_photo(rows_client) -> None:
    client, ids, url = rows_client
    chosen = [ids[0], ids[2], ids[5], ids[2]]
    resp = client.post(
        "/api/v1/photos/bulk/label", json={"ids": [*chosen, 999_999], "label": "green"}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["corrected"] == 3 and body["ids"] == [ids[0], ids[2], ids[5]]
    assert body["not_found"] == [999_999] and body["label"] == "green"
    _, factory = db.open_catalog(url=url)
    with factory() as s:
        stored = sorted((c.photo_id, c.label, c.source) for c in s.query(Correction))
    assert stored == sorted((i, "green", "web") for i in (ids[0], ids[2], ids[5]))
    for i in (ids[0], ids[2], ids[5]):
        item = client.get(f"/api/v1/photos/{i}").get_json()
        assert (item["label"], item["label_source"]) == ("green", "correction")


def test_bulk_label_refuses_unknown_labels_and_bad_bodies(rows_client) -> None:
    client, ids, _ = rows_client
    resp = client.post("/api/v1/photos/bulk/label", json={"ids": ids, "label": "purple"})
    assert resp.status_code == 400 and resp.get_json()["code"] == "unknown_label"
    for body in ({"ids": [], "label": "red"}, {"ids": [0], "label": "red"}, {"label": "red"},
                 {"ids": [1], "label": "red", "extra": 1}):  # fmt: skip
        resp = client.post("/api/v1/photos/bulk/label", json=body)
        assert resp.status_code == 400, body
    assert client.get("/api/v1/photos/months?label=purple").get_json()["total"] == 0


def test_bulk_tags_add_and_remove_on_every_photo(rows_client) -> None:
    client, ids, _ = rows_client
    chosen = ids[:3]
    resp = client.post(
        "/api/v1/photos/bulk/tags", json={"ids": chosen, "add": ["Holiday", "beach"]}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["added"] == 6
    for i in chosen:
        tags = {t["tag"] for t in client.get(f"/api/v1/photos/{i}/tags").get_json()["tags"]}
        assert {"holiday", "beach"} <= tags
    resp = client.post("/api/v1/photos/bulk/tags", json={"ids": ids[:2], "remove": ["beach"]})
    assert resp.get_json()["removed"] == 2
    left = {i: {t["tag"] for t in client.get(f"/api/v1/photos/{i}/tags").get_json()["tags"]}
            for i in chosen}  # fmt: skip
    assert "beach" not in left[ids[0]] and "beach" not in left[ids[1]]
    assert "beach" in left[ids[2]]
    resp = client.post("/api/v1/photos/bulk/tags", json={"ids": chosen})
    assert resp.status_code == 400


def test_export_a_list_as_csv_or_text(rows_client) -> None:
    client, ids, _ = rows_client
    resp = client.post("/api/v1/photos/bulk/export", json={"ids": [ids[5], ids[0]]})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert 'filename="photos.csv"' in resp.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [(int(r["id"]), r["path"], r["label"]) for r in table] == [
        (ids[5], "/nowhere/5.jpg", "blue"),
        (ids[0], "/nowhere/0.jpg", "red"),
    ]
    assert table[1]["taken_at"] == "2024-03-09T10:00:00"
    resp = client.post(
        "/api/v1/photos/bulk/export", json={"ids": [ids[1], ids[2]], "format": "text"}
    )
    assert resp.mimetype == "text/plain"
    assert resp.get_data(as_text=True) == "/nowhere/1.jpg\n/nowhere/2.jpg\n"


def test_bulk_endpoints_are_in_the_openapi_document(rows_client) -> None:
    client, _, _ = rows_client
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/photos/months", "/api/v1/photos/bulk/label",
                 "/api/v1/photos/bulk/tags", "/api/v1/photos/bulk/export"):  # fmt: skip
        assert path in paths, path


@pytest.fixture
def indexed_client(sqlite_catalog_url, photo_library: Library, tiny_bundle_dir: Path,
                   make_library_app):  # fmt: skip
    index_into(sqlite_catalog_url, tiny_bundle_dir, photo_library.root)
    return make_library_app(sqlite_catalog_url).test_client()


def test_selected_photos_become_examples_of_a_category(indexed_client) -> None:
    """What the selection bar does: the selected tiles' sha256 sent to the categories API."""
    client = indexed_client
    items = client.get("/api/v1/photos?label=red").get_json()["items"]
    shas = list(dict.fromkeys(i["sha256"] for i in items))
    assert len(shas) >= 3
    resp = client.post("/api/v1/categories", json={"name": "reds", "examples": shas[:2]})
    assert resp.status_code in (200, 201), resp.get_data(as_text=True)
    resp = client.post("/api/v1/categories/reds/examples", json={"examples": shas[2:]})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["examples"] == len(shas)


def test_an_organize_job_takes_the_selected_photo_ids(indexed_client, tmp_path) -> None:
    client = indexed_client
    resp = client.post(
        "/api/v1/jobs",
        json={"kind": "organize", "into": str(tmp_path / "out"), "photo_ids": [1, 2]},
    )
    # the folder is outside the server's roots here: refused for that, not for photo_ids
    assert resp.status_code in (202, 400), resp.get_data(as_text=True)
    if resp.status_code == 400:
        assert resp.get_json()["parameter"] == "into"
    resp = client.post("/api/v1/jobs", json={"kind": "organize", "into": "/x", "photo_ids": []})
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "photo_ids"


def test_organize_plans_only_the_selected_photos(sqlite_catalog_url, photo_library: Library,
                                                 tiny_bundle_dir: Path, tmp_path) -> None:  # fmt: skip
    from smartalbum.organize import plan_from_catalog

    index_into(sqlite_catalog_url, tiny_bundle_dir, photo_library.root)
    _, factory = db.open_catalog(url=sqlite_catalog_url)
    everything = plan_from_catalog(factory, tmp_path / "out")
    chosen = sorted({item.photo_id for item in everything.items})[:3]
    plan = plan_from_catalog(factory, tmp_path / "out", photo_ids=chosen)
    assert sorted({item.photo_id for item in plan.items}) == chosen
    assert len(plan.items) < len(everything.items)


def test_a_bulk_label_can_be_withdrawn(rows_client) -> None:
    """The gallery's undo: the corrections go, the earlier label counts again."""
    client, ids, _ = rows_client
    assert client.get("/api/v1/photos/months?label=blue").get_json()["total"] == 2
    body = client.post(
        "/api/v1/photos/bulk/label", json={"ids": [ids[0], ids[2]], "label": "blue"}
    ).get_json()
    assert [i["label"] for i in body["items"]] == ["blue", "blue"]
    assert len(body["corrections"]) == 2
    assert client.get("/api/v1/photos/months?label=blue").get_json()["total"] == 4
    resp = client.post("/api/v1/corrections/withdraw", json={"ids": body["corrections"]})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    back = resp.get_json()
    assert back["withdrawn"] == 2
    assert [(i["id"], i["label"], i["label_source"]) for i in back["items"]] == [
        (ids[0], "red", "prediction"),
        (ids[2], "red", "prediction"),
    ]
    assert client.get("/api/v1/photos/months?label=blue").get_json()["total"] == 2


def test_months_leave_out_photos_without_a_copy_on_disk(rows_client) -> None:
    client, ids, url = rows_client
    from sqlalchemy import update

    from smartalbum.library.schema import File

    _, factory = db.open_catalog(url=url)
    with db.session_scope(factory) as s:
        s.execute(update(File).where(File.photo_id.in_([ids[5], ids[6]])).values(status="missing"))
    body = client.get("/api/v1/photos/months").get_json()
    got = [(m["year"], m["month"], m["count"]) for m in body["months"]]
    assert got == [(2024, 3, 2), (2024, 1, 1), (2023, 12, 2), (None, None, 1)]
    assert body["total"] == len(client.get("/api/v1/photos?limit=200").get_json()["items"])
