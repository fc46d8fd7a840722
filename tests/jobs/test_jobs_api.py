"""The jobs API: start an index of a server-side folder, read progress, list, cancel."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from smartalbum.config import ModelSettings, Settings
from smartalbum.jobs import store
from smartalbum.jobs.app import make_celery, reset
from smartalbum.library.schema import File
from smartalbum.web import create_app


@pytest.fixture
def web(tmp_path: Path, app_settings):
    """(app, settings) over a SQLite catalog; jobs run inline (Celery eager mode)."""
    settings = app_settings(
        model={"batch_size": 4},
        jobs={"chunk_size": 4, "roots": [tmp_path / "photos"]},
        faces={"auto_scan": False},  # the queued face scan: test_index_job_queues_a_face_scan
    )
    app = create_app(settings)
    make_celery(settings).conf.task_always_eager = True
    yield app, settings
    reset()


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.get_json()


def test_post_indexes_a_folder_and_the_job_reports_progress(web, library) -> None:
    app, settings = web
    client = app.test_client()
    response = client.post("/api/v1/jobs", json={"kind": "index", "paths": [str(library.root)]})
    assert response.status_code == 202
    job = response.get_json()
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    detail = client.get(response.headers["Location"]).get_json()
    files = len(library.photos) + len(library.bad)
    assert detail["status"] == "done" and detail["done"] == detail["total"] == files
    assert detail["errors"] == len(library.bad)
    assert {e["item"] for e in detail["failed_items"]} == {
        str(library.path(rel)) for rel in library.bad
    }
    listed = client.get("/api/v1/jobs").get_json()["jobs"]
    assert [j["id"] for j in listed] == [job["id"]]
    assert client.get("/api/v1/jobs?status=running").get_json() == {"jobs": []}
    from smartalbum.library.db import open_catalog

    _, factory = open_catalog(settings)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(File)) == len(library.photos)
    # a finished job is not cancelled
    assert client.delete(f"/api/v1/jobs/{job['id']}").get_json()["status"] == "done"


def test_delete_cancels_a_queued_job(web, library) -> None:
    app, settings = web
    from smartalbum.library.db import open_catalog

    _, factory = open_catalog(settings)
    job_id = store.create_job(factory, "index", {"paths": [str(library.root)]})
    client = app.test_client()
    cancelled = client.delete(f"/api/v1/jobs/{job_id}").get_json()
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"]
    assert client.get(f"/api/v1/jobs/{job_id}").get_json()["status"] == "cancelled"


@pytest.mark.parametrize(
    "body, code",
    [
        ({"kind": "nope", "paths": ["/"]}, "unknown_kind"),
        ({"kind": "index", "paths": ["relative/dir"]}, "bad_path"),
        ({"kind": "index", "paths": ["/etc"]}, "path_not_allowed"),
        ({"kind": "index", "paths": []}, "bad_parameter"),
        ({"kind": "index", "paths": ["/x"], "extra": 1}, "bad_parameter"),
    ],
)
def test_bad_requests_are_problems(web, body, code) -> None:
    app, _ = web
    assert _problem(app.test_client().post("/api/v1/jobs", json=body), 400)["code"] == code


def test_missing_folder_unknown_job_and_bad_parameters(web, tmp_path: Path) -> None:
    app, _ = web
    client = app.test_client()
    gone = str(tmp_path / "photos" / "nowhere")
    assert _problem(client.post("/api/v1/jobs", json={"kind": "index", "paths": [gone]}), 400)
    assert _problem(client.post("/api/v1/jobs", data="x"), 400)
    assert _problem(client.get("/api/v1/jobs/" + "0" * 32), 404)["code"] == "no_job"
    assert _problem(client.delete("/api/v1/jobs/not-an-id"), 404)
    assert _problem(client.get("/api/v1/jobs?limit=0"), 400)
    assert _problem(client.get("/api/v1/jobs?status=zzz"), 400)


@pytest.mark.slow
def test_index_job_queues_a_face_scan_of_its_folders(tmp_path: Path, tiny_bundle_dir, library):
    """Faces are grouped as photos arrive: a finished index job queues a ``faces`` job for
    the same folders (off with SMARTALBUM_FACES__AUTO_SCAN=false or faces disabled)."""
    from smartalbum.library.db import open_catalog

    for auto, enabled, expected in [(True, True, ["faces", "index"]), (True, False, ["index"])]:
        data = tmp_path / f"data-{auto}-{enabled}"
        settings = Settings(
            data_dir=data,
            database_url=f"sqlite:///{data / 'catalog.sqlite3'}",
            model=ModelSettings(bundle=tiny_bundle_dir, threads=1, batch_size=4),
            web={"rate_limit": ""},
            faces={"auto_scan": auto, "enabled": enabled},
        )
        app = create_app(settings)
        make_celery(settings).conf.task_always_eager = True
        client = app.test_client()
        response = client.post("/api/v1/jobs", json={"kind": "index", "paths": [str(library.root)]})
        assert response.status_code == 202
        jobs = client.get("/api/v1/jobs").get_json()["jobs"]
        assert [j["kind"] for j in jobs] == expected, jobs
        assert all(j["status"] == "done" for j in jobs), jobs
        if "faces" in expected:
            from smartalbum.library.schema import Photo

            with open_catalog(settings)[1]() as s:
                photos = s.scalar(select(func.count()).select_from(Photo))
            assert jobs[0]["params"] == {"paths": [str(library.root.resolve())]}
            assert jobs[0]["total"] == jobs[0]["done"] == photos > 0  # every new photo scanned
        reset()
