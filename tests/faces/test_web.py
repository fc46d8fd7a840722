"""The people API and pages: scan and re-group as jobs, read people and faces, correct them,
face thumbnails, purge; problems for bad input."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from smartalbum.jobs.app import make_celery, reset
from smartalbum.library import db
from smartalbum.web import create_app


@pytest.fixture
def web(app_settings, faces, photo_maker):
    """(client, settings, photo ids) over a SQLite catalog with photos of A, B and A+B;
    jobs run inline (Celery eager mode)."""

    def make(enabled: bool = True):
        settings = app_settings(model={"batch_size": 4}, faces={"enabled": enabled})
        app = create_app(settings)
        make_celery(settings).conf.task_always_eager = True
        return app.test_client(), settings

    client, settings = make()
    factory = db.open_catalog(settings)[1]
    ids = {
        "A": [
            photo_maker(factory, v, f"a{k}")
            for k, v in enumerate(faces.variants(faces.astronaut)[:3])
        ],
        "B": [
            photo_maker(factory, v, f"b{k}", datetime(2019, 1, 1))
            for k, v in enumerate(faces.variants(faces.others[0])[:2])
        ],
        "AB": [photo_maker(factory, faces.group(faces.astronaut, faces.others[0]), "ab")],
    }
    yield client, settings, ids, make
    reset()
    db.dispose_all()


def _problem(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    if code:
        assert body["code"] == code
    return body


def test_scan_read_correct_and_purge(web) -> None:
    client, settings, ids, _ = web
    response = client.post("/api/v1/people/scan", json={})
    assert response.status_code == 202
    job = client.get(response.headers["Location"]).get_json()
    assert job["kind"] == "faces" and job["status"] == "done", job
    assert job["done"] == job["total"] == 6 and job["result"]["faces"] == 7
    # The scan job cut every face's crop: a first visit decodes no original.
    crops = Path(settings.data_dir) / "faces" / "thumbnails"
    assert len(list(crops.rglob("*.jpg"))) == 7
    listing = client.get("/api/v1/people").get_json()
    assert listing["enabled"] and not listing["unassigned"]
    people = sorted(listing["people"], key=lambda p: -p["faces"])
    assert [p["faces"] for p in people] == [4, 3]
    a, b = people[0]["id"], people[1]["id"]
    face = people[0]["face_list"][0]
    thumb = client.get(face["thumbnail"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert thumb.data[:2] == b"\xff\xd8"
    assert client.get(face["thumbnail"]).status_code == 200  # now from disk

    by_id = client.get(f"/api/v1/photos/{ids['AB'][0]}/faces").get_json()
    by_sha = client.get(f"/api/v1/photos/{by_id['sha256']}/faces").get_json()
    assert by_id == by_sha and by_id["scanned"] and len(by_id["faces"]) == 2
    assert {f["person_id"] for f in by_id["faces"]} == {a, b}

    named = client.patch(f"/api/v1/people/{a}", json={"name": "Eileen"}).get_json()
    assert named["name"] == "Eileen" and named["faces"] == 4
    both = client.get(f"/api/v1/people/photos?person={a}&person={b}").get_json()
    assert [p["id"] for p in both["photos"]] == ids["AB"]
    # B was born in 2020: the 2019 photos are not B any more.
    born = client.patch(f"/api/v1/people/{b}", json={"birth_date": "2020-01-01"}).get_json()
    assert born["birth_date"] == "2020-01-01" and born["faces"] == 1
    # Not Eileen; then to a new person; then merged back.
    rejected = client.post(f"/api/v1/people/{a}/rejections", json={"faces": [face["id"]]})
    assert rejected.get_json()["faces"] == 3
    created = client.post("/api/v1/people", json={"faces": [face["id"]], "name": "Twin"})
    assert created.status_code == 201
    twin = created.get_json()["id"]
    merged = client.post(f"/api/v1/people/{a}/merge", json={"people": [twin]}).get_json()
    assert merged["name"] == "Eileen" and merged["faces"] == 3  # the rejection wins
    moved = client.post(f"/api/v1/people/{a}/faces", json={"faces": [face["id"]]}).get_json()
    assert moved["faces"] == 4  # moved explicitly: the newest word wins

    regroup = client.post("/api/v1/people/recluster", json={})
    assert regroup.status_code == 202
    assert client.get(regroup.headers["Location"]).get_json()["status"] == "done"
    assert client.get(f"/api/v1/people/{a}").get_json()["faces"] == 4

    thumbs = Path(settings.data_dir) / "faces" / "thumbnails"
    assert any(thumbs.rglob("*.jpg"))
    purged = client.post("/api/v1/people/purge", json={"confirm": True}).get_json()
    assert purged["deleted"]["faces"] == 7
    assert not thumbs.exists()
    assert client.get("/api/v1/people").get_json()["people"] == []


def test_problems(web) -> None:
    client, _, ids, make = web
    _problem(client.get("/api/v1/people/99"), 404, "no_person")
    _problem(client.patch("/api/v1/people/99", json={"name": "x"}), 404, "no_person")
    _problem(client.get("/api/v1/photos/nope/faces"), 404, "photo_not_found")
    _problem(client.get("/api/v1/faces/5/thumbnail"), 404, "no_face")
    _problem(client.post("/api/v1/people", json={"faces": []}), 400, "bad_parameter")
    _problem(client.post("/api/v1/people", json={"faces": [12345]}), 404, "no_face")
    _problem(client.post("/api/v1/people/scan", json={"paths": ["relative"]}), 400, "bad_path")
    _problem(client.post("/api/v1/people/scan", json={"oops": 1}), 400, "bad_parameter")
    _problem(client.post("/api/v1/people/purge", json={"confirm": False}), 400)
    _problem(client.get("/api/v1/people?x=1"), 400)
    _problem(client.get("/api/v1/people/photos?person=abc"), 400)
    off, _ = make(enabled=False)
    _problem(off.post("/api/v1/people/scan", json={}), 409, "faces_disabled")
    assert off.get("/api/v1/people").get_json()["enabled"] is False


def test_pages(web) -> None:
    client, _, ids, _ = web
    page = client.get("/people").get_data(as_text=True)
    assert 'id="people"' in page and "people.js" in page and 'aria-current="page"' in page
    assert 'data-person-id="3"' in client.get("/people/3").get_data(as_text=True)
    photo = client.get(f"/gallery/photos/{ids['A'][0]}").get_data(as_text=True)
    assert "people.js" in photo
