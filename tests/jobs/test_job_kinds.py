"""Whole-job kinds: classify a batch (uploaded or server-side), re-run a head over the
catalog from stored embeddings, organise; cancel, unknown kinds, stale-job sweep."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from library.photos import COLOURS, encode, picture
from smartalbum.jobs import kinds, store
from smartalbum.jobs.app import make_celery, reset
from smartalbum.library.db import open_catalog
from smartalbum.library.schema import Job, Prediction
from smartalbum.library.schema_state import JobUpload
from smartalbum.web import create_app


@pytest.fixture
def web(app_settings):
    """(app, settings, factory) over a SQLite catalog; jobs run inline (Celery eager)."""
    settings = app_settings(model={"batch_size": 4}, jobs={"chunk_size": 4})
    app = create_app(settings)
    make_celery(settings).conf.task_always_eager = True
    yield app, settings, open_catalog(settings)[1]
    reset()


def _index(client, library) -> dict:
    response = client.post("/api/v1/jobs", json={"kind": "index", "paths": [str(library.root)]})
    assert response.status_code == 202
    return client.get(response.headers["Location"]).get_json()


def test_uploaded_photos_are_classified_as_a_job_and_the_spool_is_removed(web) -> None:
    app, settings, factory = web
    client = app.test_client()
    colours = ["red", "green", "blue", "red"]
    data = {
        "file": [
            (io.BytesIO(encode(picture(COLOURS[c], seed=i))), f"p{i}.jpg")
            for i, c in enumerate(colours)
        ]
        + [(io.BytesIO(b"not a photo"), "notes.jpg")]
    }
    response = client.post("/api/v1/jobs/classify", data=data, content_type="multipart/form-data")
    assert response.status_code == 202, response.get_data(as_text=True)
    job = client.get(response.headers["Location"]).get_json()
    assert job["kind"] == "classify" and job["status"] == "done"
    assert job["params"]["names"][-1] == "notes.jpg"  # what the jobs page shows
    assert job["done"] == job["total"] == 5 and job["errors"] == 1
    results = job["result"]["results"]
    assert [r["path"] for r in results] == ["p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg", "notes.jpg"]
    assert [r["label"] for r in results[:4]] == colours  # the tiny bundle's colour head
    assert results[4]["label"] is None and results[4]["error"]["code"]
    assert job["result"]["counts"] == {"red": 2, "green": 1, "blue": 1}
    assert job["failed_items"][0]["item"] == "notes.jpg"
    # the message names the file as uploaded, never a temporary path on the server (issue 15)
    message = job["failed_items"][0]["message"]
    assert "notes.jpg" in message and "/" not in message, message
    assert "/" not in results[4]["error"]["detail"]
    # the uploads waited in the catalog (any worker can read them), not in the data dir,
    # and are gone with the job
    uploads = Path(settings.data_dir) / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(JobUpload)) == 0


def test_upload_job_rejects_a_request_without_photos(web) -> None:
    app, _, _ = web
    response = app.test_client().post("/api/v1/jobs/classify", data={})
    assert response.status_code == 400
    assert response.get_json()["code"] == "no_file"


def test_rehead_recomputes_predictions_from_stored_embeddings_only(web, library) -> None:
    app, _, factory = web
    client = app.test_client()
    assert _index(client, library)["status"] == "done"
    with factory() as s:
        before = s.scalar(select(func.count()).select_from(Prediction))
    assert before
    with factory.begin() as s:
        s.execute(delete(Prediction))
    for rel in library.good:  # no photo can be read now: only embeddings can help
        library.path(rel).unlink(missing_ok=True)
    response = client.post("/api/v1/jobs", json={"kind": "rehead", "head": "strict"})
    assert response.status_code == 202, response.get_data(as_text=True)
    job = client.get(response.headers["Location"]).get_json()
    assert job["status"] == "done", job
    with factory() as s:
        strict = s.scalar(select(func.count()).where(Prediction.head == "strict"))
    assert strict == job["total"] == job["done"] == job["result"]["predicted"] > 0
    # nothing left to do: a second run predicts nothing and changes nothing
    again = client.post("/api/v1/jobs", json={"kind": "rehead", "head": "strict"})
    assert client.get(again.headers["Location"]).get_json()["result"]["predicted"] == 0


def test_organize_job_copies_the_catalog_and_never_touches_the_originals(
    web, library, tmp_path: Path
) -> None:
    app, _, _ = web
    client = app.test_client()
    _index(client, library)
    originals = {rel: library.path(rel).read_bytes() for rel in library.good}
    into = tmp_path / "sorted"
    response = client.post(
        "/api/v1/jobs",
        json={"kind": "organize", "into": str(into), "mode": "copy", "layout": "{label}"},
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    job = client.get(response.headers["Location"]).get_json()
    assert job["status"] == "done", job
    copied = sorted(p for p in into.rglob("*") if p.is_file() and p.suffix in {".jpg", ".png"})
    assert len(copied) == library.distinct
    assert {p.parent.name for p in copied} <= set(COLOURS) | {"review"}
    assert Path(job["result"]["journal"]).exists()
    assert all(library.path(rel).read_bytes() == b for rel, b in originals.items())


def test_an_organize_job_of_a_selection_copies_only_those_photos(
    web, library, tmp_path: Path
) -> None:
    """The gallery's "Organise…": an organize job over the selected photo ids."""
    app, _, _ = web
    client = app.test_client()
    _index(client, library)
    chosen = [item["id"] for item in client.get("/api/v1/photos?limit=3").get_json()["items"]]
    into = tmp_path / "chosen"
    response = client.post(
        "/api/v1/jobs",
        json={"kind": "organize", "into": str(into), "mode": "copy", "photo_ids": chosen},
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    job = client.get(response.headers["Location"]).get_json()
    assert job["status"] == "done", job
    copied = [p for p in into.rglob("*") if p.is_file() and p.suffix in {".jpg", ".png"}]
    assert len(copied) == len(chosen) < library.distinct


@pytest.mark.parametrize(
    "body, code",
    [
        ({"kind": "rehead", "head": "nope"}, "unknown_head"),
        ({"kind": "rehead", "paths": ["/"]}, "bad_parameter"),
        ({"kind": "organize", "into": "relative/dir"}, "bad_path"),
        ({"kind": "organize", "into": "/tmp/x", "mode": "shred"}, "bad_parameter"),
        ({"kind": "organize", "into": "/tmp/x", "layout": "{nope}"}, "bad_layout"),
        ({"kind": "classify", "paths": ["relative.jpg"]}, "bad_path"),
    ],
)
def test_bad_job_requests_are_400_problems(web, body, code) -> None:
    app, _, factory = web
    response = app.test_client().post("/api/v1/jobs", json=body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["code"] == code
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0  # nothing was queued


def test_a_cancelled_whole_job_stops_and_stays_cancelled(web, tmp_path: Path) -> None:
    _, settings, factory = web
    paths = []
    for i in range(6):
        path = tmp_path / f"c{i}.jpg"
        path.write_bytes(encode(picture(COLOURS["red"], seed=i)))
        paths.append(str(path))
    job_id = store.create_job(factory, "classify", {"paths": paths})
    calls = []
    original = kinds.JobContext.progress

    def cancel_after_two(self, n=1):
        calls.append(n)
        if len(calls) == 2:
            store.cancel_job(factory, job_id)
        return original(self, n)

    kinds.JobContext.progress = cancel_after_two
    try:
        kinds.run(settings, factory, job_id)
    finally:
        kinds.JobContext.progress = original
    job = store.get_job(factory, job_id)
    assert job.status == "cancelled" and len(calls) == 2 and job.result is None


def test_unknown_kind_fails_the_job_with_a_reason(web) -> None:
    _, settings, factory = web
    job_id = store.create_job(factory, "rehead", {})
    with factory.begin() as s:
        s.execute(update(Job).where(Job.id == job_id).values(kind="vanished"))
    kinds.run(settings, factory, job_id)
    job = store.get_job(factory, job_id)
    assert job.status == "failed" and "vanished" in job.message
    with pytest.raises(ValueError, match="unknown job kind"):
        store.create_job(factory, "vanished", {})


def test_sweep_resends_a_whole_job_whose_worker_died(web) -> None:
    _, settings, factory = web
    job_id = store.create_job(factory, "rehead", {})
    old = store.utcnow() - timedelta(seconds=settings.jobs.stale_after_s * 2)
    with factory.begin() as s:  # a worker took it, reported a total, then vanished
        s.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(status="running", total=10, started_at=old, heartbeat_at=old)
        )
    jobs, chunks = store.stale_work(factory, settings.jobs.stale_after_s)
    assert jobs == [job_id] and chunks == []
    kinds.run(settings, factory, job_id)  # what the re-sent task does: runs it again
    assert store.get_job(factory, job_id).status == "done"
