"""The categories API and pages over a real catalog indexed from generated photos."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from library.photos import COLOURS, encode, picture
from smartalbum.config import ModelSettings, Settings

PROBLEM = "application/problem+json"


@pytest.fixture
def web(tmp_path: Path, tiny_bundle_dir: Path):
    """(app, client, {colour: [sha256...]}) with 45 generated photos indexed."""
    from smartalbum.library import db
    from smartalbum.library.indexer import Indexer
    from smartalbum.model.engine import Engine
    from smartalbum.web import create_app

    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'catalog.sqlite3'}",
        model=ModelSettings(bundle=tiny_bundle_dir, threads=1),
    )
    root = tmp_path / "photos"
    root.mkdir()
    for colour in COLOURS:
        for i in range(15):
            seed = 100 * len(colour) + i
            (root / f"{colour}_{i:02d}.jpg").write_bytes(encode(picture(COLOURS[colour], seed)))
    _, factory = db.open_catalog(settings)
    Indexer(factory, Engine.load(tiny_bundle_dir, threads=1), workers=1).run([root])
    from smartalbum.library.schema import File, Photo

    shas: dict[str, list[str]] = {c: [] for c in COLOURS}
    with factory() as s:
        for path, sha in s.query(File.path, Photo.sha256).join(Photo).order_by(File.path):
            shas[Path(path).name.split("_")[0]].append(sha)
    app = create_app(settings)
    yield app, app.test_client(), shas, settings, factory
    db.dispose_all()


def run_job(settings, factory, job_id: str) -> None:
    from smartalbum.jobs.kinds import run

    run(settings, factory, job_id)


def test_teach_show_correct_retrain_over_http(web):
    app, client, shas, settings, factory = web
    resp = client.post(
        "/api/v1/categories",
        json={
            "name": "reds",
            "description": "red things",
            "examples": shas["red"][:4],
            "counter_examples": shas["blue"][:2],
        },
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert resp.headers["Location"] == body["links"]["self"] == "/api/v1/categories/reds"
    assert body["version"] == 1 and body["members"] >= 12

    listed = client.get("/api/v1/categories").get_json()["categories"]
    assert [c["name"] for c in listed] == ["reds"]
    photos = client.get("/api/v1/categories/reds/photos?limit=100").get_json()["photos"]
    assert {p["sha256"] for p in photos} == set(shas["red"])
    assert photos[0]["score"] >= photos[-1]["score"]
    assert all(p["path"].endswith(".jpg") for p in photos)

    queue = client.get("/api/v1/categories/reds/review?limit=5").get_json()["photos"]
    assert len(queue) == 5 and not {q["sha256"] for q in queue} & set(shas["red"][:4])

    fix = client.post(
        "/api/v1/categories/reds/corrections", json={"sha256": shas["red"][-1], "member": False}
    )
    assert fix.status_code == 200
    photos = client.get("/api/v1/categories/reds/photos").get_json()["photos"]
    assert shas["red"][-1] not in {p["sha256"] for p in photos}

    job = client.post("/api/v1/retrain", json={"names": ["reds"]})
    assert job.status_code == 202 and job.headers["Location"].startswith("/api/v1/jobs/")
    job_id = job.get_json()["id"]
    run_job(settings, factory, job_id)
    done = client.get(f"/api/v1/jobs/{job_id}").get_json()
    assert done["status"] == "done" and done["kind"] == "categories"
    [report] = done["result"]["reports"]
    assert report["category"] == "reds" and "before" in report and "after" in report

    detail = client.get("/api/v1/categories/reds").get_json()
    assert detail["versions"][0]["version"] == 1
    assert {lab["sha256"] for lab in detail["labels"]} >= set(shas["red"][:4])

    restored = client.post("/api/v1/categories/reds/versions/1/restore")
    assert restored.status_code == 200 and restored.get_json()["version"] == 1

    exported = client.get("/api/v1/categories/reds/export")
    assert "attachment" in exported.headers["Content-Disposition"]
    imported = client.post("/api/v1/categories/import?name=reds2", json=exported.get_json())
    assert imported.status_code == 201 and imported.get_json()["name"] == "reds2"

    renamed = client.patch("/api/v1/categories/reds2", json={"name": "crimson"})
    assert renamed.get_json()["name"] == "crimson"
    assert client.delete("/api/v1/categories/crimson").status_code == 204
    assert client.get("/api/v1/categories/crimson").status_code == 404


def test_create_with_uploaded_examples(web, tmp_path):
    app, client, shas, settings, factory = web
    files = [
        (io.BytesIO(encode(picture(COLOURS["green"], 900 + i))), f"g{i}.jpg") for i in range(3)
    ]
    resp = client.post(
        "/api/v1/categories",
        data={
            "name": "greens",
            "examples": [*files, shas["green"][0]],
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert resp.get_json()["examples"] == 4
    stored = list((Path(settings.data_dir) / "examples").iterdir())
    assert len(stored) == 3  # uploads are copies under the data dir, named by content


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "code"),
    [
        ("post", "/api/v1/categories", {"name": "x"}, 400, "bad_parameter"),
        ("post", "/api/v1/categories", {"name": "x", "examples": ["nothex"]}, 400, "bad_parameter"),
        (
            "post",
            "/api/v1/categories",
            {"name": "x", "examples": ["a" * 64]},
            404,
            "photo_not_found",
        ),
        ("post", "/api/v1/categories", {"name": "a/b", "examples": []}, 400, "invalid_category"),
        ("get", "/api/v1/categories/nope", None, 404, "category_not_found"),
        ("post", "/api/v1/retrain", {"names": ["nope"]}, 404, "category_not_found"),
        ("post", "/api/v1/categories/import", {"format": "x"}, 400, "invalid_category"),
        ("get", "/api/v1/photos/1/explain?format=gif", None, 400, "bad_parameter"),
    ],
)
def test_errors_are_problems(web, method, url, body, status, code):
    _, client, *_ = web
    resp = getattr(client, method)(url, json=body) if body is not None else client.get(url)
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM and resp.get_json()["code"] == code


def test_too_few_examples_and_duplicates(web):
    _, client, shas, *_ = web
    one = client.post("/api/v1/categories", json={"name": "x", "examples": shas["red"][:1]})
    assert one.status_code == 422 and one.get_json()["code"] == "not_enough_examples"
    ok = client.post("/api/v1/categories", json={"name": "x", "examples": shas["red"][:2]})
    assert ok.status_code == 201
    again = client.post("/api/v1/categories", json={"name": "x", "examples": shas["red"][:2]})
    assert again.status_code == 409


def test_explain_without_a_features_model_is_501(web):
    _, client, shas, *_ = web
    resp = client.get("/api/v1/photos/1/explain")
    assert resp.status_code == 501 and resp.get_json()["code"] == "explain_unavailable"


def test_pages(web):
    _, client, shas, *_ = web
    client.post("/api/v1/categories", json={"name": "reds", "examples": shas["red"][:3]})
    for url in ("/categories", "/categories/reds"):
        resp = client.get(url)
        assert resp.status_code == 200
        html = resp.get_data(as_text=True)
        assert "categories.js" in html and 'href="/categories"' in html
    assert "categories.js" in client.get("/gallery/photos/1").get_data(as_text=True)
    assert client.get("/static/categories.js").status_code == 200


def test_uploaded_examples_are_served_by_a_node_with_another_data_dir(web, tmp_path):
    """Issue 14: the uploads' bytes live in the catalog, so another web node (same catalog,
    its own data dir) serves their thumbnails; they used to be 404 there."""
    from smartalbum.library.schema import File
    from smartalbum.web import create_app

    app, client, shas, settings, factory = web
    files = [
        (io.BytesIO(encode(picture(COLOURS["green"], 950 + i))), f"g{i}.jpg") for i in range(2)
    ]
    resp = client.post(
        "/api/v1/categories",
        data={"name": "greens", "examples": [*files, *shas["green"][:1]]},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    examples = Path(settings.data_dir) / "examples"
    with factory() as s:
        ids = [
            pid for path, pid in s.query(File.path, File.photo_id) if Path(path).parent == examples
        ]
    assert len(ids) == 2
    shutil.rmtree(examples)  # the other node cannot see this node's data dir
    other = create_app(settings.model_copy(update={"data_dir": tmp_path / "other-node"}))
    for photo_id in ids:
        thumb = other.test_client().get(f"/api/v1/photos/{photo_id}/thumbnail")
        assert thumb.status_code == 200, thumb.get_data(as_text=True)
        assert thumb.data[:2] == b"\xff\xd8"
