"""The library API over a real catalog (SQLite, then PostgreSQL): list, filters, cursor
pagination, detail, thumbnails, corrections, duplicates and stats.

The catalog is indexed from generated photos with the tiny bundle (its ``colours`` head
tells red, green and blue apart), or filled row by row through the schema where a test
needs exact dates, ties and undated photos.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from gallery_catalog import fill_rows, index_into
from PIL import Image

from library.photos import Library
from smartalbum.library import db
from smartalbum.library.catalog import latest_corrections
from smartalbum.library.schema import Correction, Prediction

PROBLEM = "application/problem+json"


def assert_problem(resp, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    body = resp.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    if code is not None:
        assert body["code"] == code
    return body


@pytest.fixture
def indexed(catalog_url: str, photo_library: Library, tiny_bundle_dir: Path) -> Library:
    summary = index_into(catalog_url, tiny_bundle_dir, photo_library.root)
    assert summary.new == len(photo_library.photos)
    return photo_library


@pytest.fixture
def client(catalog_url: str, indexed: Library, make_library_app):
    return make_library_app(catalog_url).test_client()


def list_all(client, query: str = "") -> list[dict]:
    body = client.get(f"/api/v1/photos?limit=200&{query}").get_json()
    assert body["next_cursor"] is None
    return body["items"]


def walk(client, query: str, limit: int) -> list[dict]:
    """Every page of a listing, following next_cursor."""
    items, cursor, pages = [], None, 0
    while True:
        url = f"/api/v1/photos?limit={limit}&{query}"
        if cursor:
            url += f"&cursor={quote(cursor)}"
        resp = client.get(url)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        body = resp.get_json()
        assert len(body["items"]) <= limit
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items
        assert body["items"], "a page with a next cursor must not be empty"
        assert pages < 1000


def expected_label(library: Library, item: dict) -> str:
    return library.photos[str(Path(item["path"]).relative_to(library.root))]


def by_path(library: Library, items: list[dict]) -> dict[str, dict]:
    return {str(Path(i["path"]).relative_to(library.root)): i for i in items}


def photo_id(client, library: Library, rel: str) -> int:
    """The id of the photo with a copy at ``rel`` (via its detail's files)."""
    target = str(library.path(rel))
    for item in list_all(client):
        files = client.get(f"/api/v1/photos/{item['id']}").get_json()["files"]
        if any(f["path"] == target for f in files):
            return item["id"]
    raise AssertionError(f"{rel} is not in the catalog")


# -- listing ---------------------------------------------------------------------------------


def test_list_has_every_photo_once_with_the_predicted_label(client, indexed) -> None:
    items = list_all(client)
    assert len(items) == indexed.distinct
    assert len({i["id"] for i in items}) == len(items)
    for item in items:
        assert item["label"] == expected_label(indexed, item)
        assert item["label_source"] == "prediction"
        assert 0 < item["confidence"] <= 1
        assert item["thumbnail"] == f"/api/v1/photos/{item['id']}/thumbnail"
    # newest first by capture time, ties by id (all dated here)
    keys = [(i["taken_at"], i["id"]) for i in items]
    assert keys == sorted(keys, reverse=True)


def test_label_year_place_camera_and_text_filters(client, indexed) -> None:
    for label in ("red", "green", "blue"):
        items = list_all(client, f"label={label}")
        want = {rel for rel, lab in indexed.photos.items() if lab == label}
        assert items and all(item["label"] == label for item in items)
        assert {str(Path(i["path"]).relative_to(indexed.root)) for i in items} <= want
    assert list_all(client, "label=purple") == []

    # the one photo with EXIF: taken 2024-05-24 in Arezzo with a NIKON COOLPIX P6000
    for query in (
        "year=2024",
        "year=2024&month=5",
        "country=IT",
        "country=it",
        "place=Arezzo",
        "camera=COOLPIX%20P6000",
        "q=arezzo",
        "q=COOLPIX",
    ):
        items = list_all(client, query)
        assert [i["path"] for i in items] == [str(indexed.path("trip/arezzo.jpg"))], query
    for query in ("year=2024&month=6", "year=2019", "country=FR", "place=Florence", "q=nowhere"):
        assert list_all(client, query) == [], query
    # filters combine
    assert list_all(client, "country=IT&label=red") == []
    assert len(list_all(client, "country=IT&label=green")) == 1


def test_review_filters_agree_with_each_photos_reasons(client) -> None:
    """The SQL filters select exactly the photos whose own review reasons say so."""
    for head in ("colours", "strict"):
        everything = list_all(client, f"head={head}")
        for param, reason in (
            ("uncertain", "uncertain"),
            ("blurry", "blurry"),
            ("bad_exposure", "exposure"),
        ):
            flagged = {i["id"] for i in everything if reason in i["review"]}
            assert {i["id"] for i in list_all(client, f"head={head}&{param}=true")} == flagged
            assert {i["id"] for i in list_all(client, f"head={head}&{param}=false")} == (
                {i["id"] for i in everything} - flagged
            )
        on_list = {i["id"] for i in everything if i["review"]}
        assert {i["id"] for i in list_all(client, f"head={head}&review=true")} == on_list
    # the strict head (threshold 0.99) is unsure of every generated photo; colours of none
    assert {i["uncertain"] for i in list_all(client, "head=strict")} == {True}
    assert list_all(client, "uncertain=true") == []


def test_a_cursor_walk_returns_every_photo_once_in_order(client, indexed) -> None:
    everything = list_all(client)
    for limit in (1, 3, 7):
        walked = walk(client, "", limit)
        assert [i["id"] for i in walked] == [i["id"] for i in everything]
    reds = walk(client, "label=red", 2)
    assert [i["id"] for i in reds] == [i["id"] for i in list_all(client, "label=red")]


def test_bad_parameters_are_400_problems(client) -> None:
    for query, code in [
        ("limit=0", "bad_parameter"),
        ("limit=201", "bad_parameter"),
        ("limit=ten", "bad_parameter"),
        ("year=abc", "bad_parameter"),
        ("month=13", "bad_parameter"),
        ("uncertain=maybe", "bad_parameter"),
        ("cursor=not-a-cursor", "bad_parameter"),
        ("label=", "bad_parameter"),
        ("label=a%00b", "bad_parameter"),
        ("label=red&label=blue", "bad_parameter"),
        ("colour=red", "unknown_parameter"),
        ("head=nope", "unknown_head"),
    ]:
        assert_problem(client.get(f"/api/v1/photos?{query}"), 400, code)


def test_a_cursor_belongs_to_its_filters(client) -> None:
    cursor = client.get("/api/v1/photos?limit=2&label=red").get_json()["next_cursor"]
    assert cursor
    ok = client.get(f"/api/v1/photos?limit=2&label=red&cursor={quote(cursor)}")
    assert ok.status_code == 200
    body = assert_problem(
        client.get(f"/api/v1/photos?limit=2&label=blue&cursor={quote(cursor)}"),
        400,
        "bad_parameter",
    )
    assert body["parameter"] == "cursor"


# -- one photo -------------------------------------------------------------------------------


def test_detail_has_files_metadata_place_quality_and_predictions(client, indexed) -> None:
    pid = photo_id(client, indexed, "trip/arezzo.jpg")
    body = client.get(f"/api/v1/photos/{pid}").get_json()
    assert body["id"] == pid and body["label"] == "green"
    assert body["taken_at"] == "2024-05-24T09:15:00"
    assert body["metadata"]["taken_at_source"] == "exif"
    assert body["metadata"]["tz_offset_min"] == 120
    assert body["metadata"]["camera_make"] == "NIKON"
    assert body["camera"] == "NIKON COOLPIX P6000"
    assert body["place"]["city"] == "Arezzo" and body["place"]["country"] == "IT"
    assert body["place"]["latitude"] == pytest.approx(43.4674, abs=1e-3)
    assert body["place"]["altitude"] == pytest.approx(296.5)
    assert [f["path"] for f in body["files"]] == [str(indexed.path("trip/arezzo.jpg"))]
    assert body["files"][0]["status"] == "present"
    assert isinstance(body["quality"]["blur"], float)
    assert body["quality"]["exposure_verdict"] in ("ok", "under", "over")
    assert {p["head"] for p in body["predictions"]} == {"colours", "strict"}
    assert body["prediction"]["head"] == "colours" and body["prediction"]["label"] == "green"
    assert body["corrections"] == []
    strict = client.get(f"/api/v1/photos/{pid}?head=strict").get_json()
    assert strict["prediction"]["head"] == "strict" and strict["uncertain"] is True


def test_detail_lists_every_copy_of_an_exact_duplicate(client, indexed) -> None:
    original, copy = indexed.duplicates[0]
    pid = photo_id(client, indexed, original)
    paths = [f["path"] for f in client.get(f"/api/v1/photos/{pid}").get_json()["files"]]
    assert sorted(paths) == sorted([str(indexed.path(original)), str(indexed.path(copy))])


def test_unknown_photos_are_404_problems(client) -> None:
    for pid in (999_999, 2**40):
        assert_problem(client.get(f"/api/v1/photos/{pid}"), 404, "photo_not_found")
        assert_problem(client.get(f"/api/v1/photos/{pid}/thumbnail"), 404, "photo_not_found")
        resp = client.patch(f"/api/v1/photos/{pid}", json={"label": "red"})
        assert_problem(resp, 404, "photo_not_found")
    assert_problem(client.get("/api/v1/photos/abc"), 404)


# -- corrections -----------------------------------------------------------------------------


def test_a_correction_wins_in_detail_list_filters_and_stats(client, indexed, catalog_url) -> None:
    pid = photo_id(client, indexed, "2020/red/img_00.jpg")
    before = {s["label"]: s["count"] for s in client.get("/api/v1/stats").get_json()["labels"]}

    resp = client.patch(f"/api/v1/photos/{pid}", json={"label": "blue"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert (body["label"], body["label_source"]) == ("blue", "correction")
    assert body["prediction"]["label"] == "red"  # the model's view is kept
    assert [(c["label"], c["head"], c["source"]) for c in body["corrections"]] == [
        ("blue", "colours", "web")
    ]

    assert client.get(f"/api/v1/photos/{pid}").get_json()["label"] == "blue"
    assert pid in {i["id"] for i in list_all(client, "label=blue")}
    assert pid not in {i["id"] for i in list_all(client, "label=red")}
    listed = {i["id"]: i for i in list_all(client)}[pid]
    assert (listed["label"], listed["label_source"]) == ("blue", "correction")
    # a corrected photo is settled: never uncertain, even under the unsure strict head
    assert pid not in {i["id"] for i in list_all(client, "head=strict&uncertain=true")}
    after = {s["label"]: s["count"] for s in client.get("/api/v1/stats").get_json()["labels"]}
    assert after == {**before, "red": before["red"] - 1, "blue": before["blue"] + 1}

    # stored in the catalog, where every other part of Smart Album reads it
    _, factory = db.open_catalog(url=catalog_url)
    with factory() as session:
        assert latest_corrections(session, [pid]) == {pid: "blue"}

    # the latest correction wins; history is kept
    body = client.patch(f"/api/v1/photos/{pid}", json={"label": "green"}).get_json()
    assert body["label"] == "green"
    assert [c["label"] for c in body["corrections"]] == ["green", "blue"]


def test_a_correction_must_be_a_label_of_the_head(client, indexed) -> None:
    pid = photo_id(client, indexed, "2020/red/img_00.jpg")
    body = assert_problem(
        client.patch(f"/api/v1/photos/{pid}", json={"label": "purple"}), 400, "unknown_label"
    )
    assert body["available"] == ["red", "green", "blue"]
    for payload in (
        {"label": 3},
        {},
        [],
        {"label": "red", "extra": 1},
        {"label": "red", "head": 1},
    ):
        assert_problem(client.patch(f"/api/v1/photos/{pid}", json=payload), 400, "bad_parameter")
    assert_problem(client.patch(f"/api/v1/photos/{pid}", data="label=red"), 400, "bad_parameter")
    assert_problem(
        client.patch(f"/api/v1/photos/{pid}", json={"label": "red", "head": "nope"}),
        400,
        "unknown_head",
    )
    ok = client.patch(f"/api/v1/photos/{pid}", json={"label": "green", "head": "strict"})
    assert ok.status_code == 200 and ok.get_json()["corrections"][0]["head"] == "strict"
    assert client.get(f"/api/v1/photos/{pid}").get_json()["label"] == "green"


# -- thumbnails ------------------------------------------------------------------------------


def test_a_thumbnail_is_made_once_then_served_from_disk(
    client, indexed, tmp_path, monkeypatch
) -> None:
    import smartalbum.library.thumbnails as thumbnails

    decodes = []
    real = thumbnails.load_photo
    monkeypatch.setattr(
        thumbnails, "load_photo", lambda *a, **k: decodes.append(a[0]) or real(*a, **k)
    )
    pid = photo_id(client, indexed, "trip/arezzo.jpg")
    detail = client.get(f"/api/v1/photos/{pid}").get_json()
    sha = detail["sha256"]

    first = client.get(f"/api/v1/photos/{pid}/thumbnail")
    assert first.status_code == 200 and first.mimetype == "image/jpeg"
    assert first.headers["ETag"] == f'"{sha}"'
    cache = first.headers["Cache-Control"]
    assert "private" in cache and "max-age=31536000" in cache and "immutable" in cache
    image = Image.open(io.BytesIO(first.data))
    assert image.format == "JPEG" and image.size == (160, 120)  # small photos: never upscaled
    on_disk = tmp_path / "data" / "thumbnails" / sha[:2] / f"{sha}.jpg"
    assert on_disk.read_bytes() == first.data
    assert len(decodes) == 1

    second = client.get(f"/api/v1/photos/{pid}/thumbnail")
    assert second.status_code == 200 and second.data == first.data
    assert len(decodes) == 1, "the second request decoded the photo again"
    revalidated = client.get(
        f"/api/v1/photos/{pid}/thumbnail", headers={"If-None-Match": f'"{sha}"'}
    )
    assert revalidated.status_code == 304 and not revalidated.data
    assert len(decodes) == 1


def test_a_large_photo_gets_a_320_px_thumbnail(
    catalog_url, tmp_path, tiny_bundle_dir, make_library_app
) -> None:
    from library.photos import COLOURS, encode, picture

    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "wide.jpg").write_bytes(encode(picture(COLOURS["red"], 7, size=(1200, 800))))
    index_into(catalog_url, tiny_bundle_dir, folder)
    client = make_library_app(catalog_url).test_client()
    (item,) = list_all(client)
    image = Image.open(io.BytesIO(client.get(item["thumbnail"]).data))
    assert image.size == (320, 213)


def test_no_thumbnail_from_a_missing_or_changed_file(client, indexed) -> None:
    green = photo_id(client, indexed, "2021/green/img_01.jpg")
    blue = photo_id(client, indexed, "2021/blue/img_05.jpg")
    indexed.path("2021/green/img_01.jpg").unlink()
    body = assert_problem(
        client.get(f"/api/v1/photos/{green}/thumbnail"), 404, "thumbnail_unavailable"
    )
    assert "missing or changed" in body["detail"]
    # other bytes at the path (not indexed again): never thumbnailed under the old hash
    indexed.path("2021/blue/img_05.jpg").write_bytes(
        indexed.path("2020/red/img_00.jpg").read_bytes()
    )
    assert_problem(client.get(f"/api/v1/photos/{blue}/thumbnail"), 404, "thumbnail_unavailable")


# -- duplicates and stats --------------------------------------------------------------------


def test_duplicates_group_the_exact_copies_and_suggest_one(client, indexed) -> None:
    body = client.get("/api/v1/duplicates").get_json()
    exact = [g for g in body["groups"] if g["kind"] == "exact"]
    want = {frozenset(str(indexed.path(p)) for p in pair) for pair in indexed.duplicates}
    assert {frozenset(m["path"] for m in g["members"]) for g in exact} == want
    for group in exact:
        assert group["keep"]["path"] == group["members"][0]["path"]
        assert len({m["photo_id"] for m in group["members"]}) == 1
        assert group["members"][0]["thumbnail"].endswith("/thumbnail")
    assert body["total"] == len(body["groups"]) and body["next_cursor"] is None
    exact_only = client.get("/api/v1/duplicates?near=false").get_json()
    assert {g["kind"] for g in exact_only["groups"]} == {"exact"}

    first = client.get("/api/v1/duplicates?near=false&limit=1").get_json()
    assert len(first["groups"]) == 1 and first["total"] == len(indexed.duplicates)
    rest = client.get(
        f"/api/v1/duplicates?near=false&limit=1&cursor={quote(first['next_cursor'])}"
    ).get_json()
    assert rest["groups"][0]["group"] == 2
    assert rest["groups"][0]["members"] != first["groups"][0]["members"]
    assert_problem(client.get("/api/v1/duplicates?cursor=zzz"), 400, "bad_parameter")


def test_stats_count_labels_dates_places_and_review(client, indexed) -> None:
    stats = client.get("/api/v1/stats").get_json()
    everything = list_all(client)
    assert stats["catalog"] == {"available": True, "error": None}
    assert stats["head"] == "colours"
    assert stats["photos"] == stats["counts"]["photos"] == indexed.distinct
    assert stats["counts"]["errors"] == len(indexed.bad)
    counts = {s["label"]: s["count"] for s in stats["labels"]}
    assert counts == {
        label: sum(1 for i in everything if i["label"] == label)
        for label in ("red", "green", "blue")
    }
    years = {y["year"]: y for y in stats["years"]}
    assert years[2024]["months"] == [{"month": 5, "count": 1}]
    assert sum(y["count"] for y in stats["years"]) + stats["undated"] == indexed.distinct
    assert stats["countries"] == [{"country": "IT", "count": 1}]
    assert stats["places"] == [{"country": "IT", "region": "Tuscany", "city": "Arezzo", "count": 1}]
    assert stats["cameras"][0]["camera"] == "COOLPIX P6000"
    assert stats["review"]["any"] == sum(1 for i in everything if i["review"])
    strict = client.get("/api/v1/stats?head=strict").get_json()
    assert strict["review"]["uncertain"] == indexed.distinct
    assert_problem(client.get("/api/v1/stats?head=nope"), 400, "unknown_head")


# -- catalogs built row by row ---------------------------------------------------------------


@pytest.mark.slow
def test_keyset_pages_handle_ties_undated_photos_and_rare_labels(
    catalog_url, make_library_app
) -> None:
    base = datetime(2023, 7, 1, 12, 0, 0)
    rows: list[tuple[datetime | None, str]] = []
    for n in range(120):
        # every 9th photo undated (listed last); runs of four share a capture time
        taken = None if n % 9 == 0 else base - timedelta(minutes=n // 4)
        rows.append((taken, "blue" if n % 40 == 5 else "red"))  # blue is rare
    ids = fill_rows(catalog_url, rows)
    client = make_library_app(catalog_url).test_client()

    dated = sorted(
        ((t, i) for i, (t, _) in zip(ids, rows, strict=True) if t is not None), reverse=True
    )
    undated = sorted((i for i, (t, _) in zip(ids, rows, strict=True) if t is None), reverse=True)
    expected = [i for _, i in dated] + undated
    for limit in (1, 7, 13, len(dated), 200):
        assert [i["id"] for i in walk(client, "", limit)] == expected, limit

    blue = {i for i, (_, label) in zip(ids, rows, strict=True) if label == "blue"}
    walked = walk(client, "label=blue", 2)
    assert [i["id"] for i in walked] == [i for i in expected if i in blue]
    # year filters leave undated photos out
    assert [i["id"] for i in walk(client, "year=2023&month=7", 11)] == [i for _, i in dated]


def test_the_latest_prediction_and_correction_count(catalog_url, make_library_app) -> None:
    """Label filters use the newest prediction of the head (any version); a correction
    beats both, and a newer correction beats an older one."""
    ids = fill_rows(catalog_url, [(datetime(2022, 1, 1), "red"), (datetime(2022, 1, 2), "red")])
    _, factory = db.open_catalog(url=catalog_url)
    with db.session_scope(factory) as session:
        session.add(
            Prediction(
                photo_id=ids[0],
                head="colours",
                head_version="v2",
                backbone_version="b",
                label="green",
                confidence=0.8,
                uncertain=False,
                probabilities={"green": 0.8},
            )
        )
        session.add(Correction(photo_id=ids[1], label="green", source="cli"))
        session.add(Correction(photo_id=ids[1], label="blue", source="cli"))
    client = make_library_app(catalog_url).test_client()
    assert [i["id"] for i in list_all(client, "label=green")] == [ids[0]]
    assert [i["id"] for i in list_all(client, "label=blue")] == [ids[1]]
    assert list_all(client, "label=red") == []


# -- no catalog ------------------------------------------------------------------------------


def test_an_empty_catalog_answers_empty(catalog_url, make_library_app) -> None:
    client = make_library_app(catalog_url).test_client()
    page = client.get("/api/v1/photos").get_json()
    assert page == {"items": [], "next_cursor": None, "limit": 60, "head": "colours"}
    assert client.get("/api/v1/duplicates").get_json()["groups"] == []
    stats = client.get("/api/v1/stats").get_json()
    assert stats["photos"] == 0 and stats["labels"] == [] and stats["review"]["any"] == 0


def test_a_catalog_that_cannot_be_opened_leaves_the_app_running(make_library_app) -> None:
    client = make_library_app("postgresql://nobody@127.0.0.1:1/none").test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/v1/photos").get_json()["items"] == []
    assert client.get("/api/v1/duplicates").get_json()["groups"] == []
    stats = client.get("/api/v1/stats").get_json()
    assert stats["catalog"]["available"] is False
    assert "cannot open the catalog" in stats["catalog"]["error"]
    assert "127.0.0.1:1" in stats["catalog"]["error"]
    body = assert_problem(client.get("/api/v1/photos/1"), 404, "photo_not_found")
    assert "cannot open the catalog" in body["detail"]
    assert_problem(client.patch("/api/v1/photos/1", json={"label": "red"}), 404)
