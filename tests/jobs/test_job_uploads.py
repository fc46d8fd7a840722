"""Photos uploaded with a job wait in the catalog (issue 14): a worker with another data
dir (another machine) classifies them; they are deleted when the job ends, is cancelled,
or by the sweep. Both catalog backends."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from library.photos import COLOURS, encode, picture
from smartalbum.jobs import kinds, store, uploads
from smartalbum.library.schema_state import JobUpload

from .conftest import job_settings


def _count(factory) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(JobUpload))


def test_a_worker_on_another_data_dir_classifies_uploads_from_the_catalog(
    settings, factory, tmp_path: Path, tiny_bundle_dir: Path
) -> None:
    job_id = store.create_job(factory, "classify", {"uploads": 3})
    photos = [
        ("red.jpg", encode(picture(COLOURS["red"], seed=1))),
        ("blue.jpg", encode(picture(COLOURS["blue"], seed=2))),
        ("broken.jpg", b"\xff\xd8 not really a jpeg"),
    ]
    assert uploads.store_uploads(factory, job_id, photos) == 3
    assert uploads.names(factory, job_id) == ["red.jpg", "blue.jpg", "broken.jpg"]
    # the worker: same catalog, a data dir of its own that holds nothing of the upload
    worker = job_settings(tmp_path / "elsewhere", settings.database_url, tiny_bundle_dir)
    kinds.run(worker, factory, job_id)
    job = store.get_job(factory, job_id)
    assert job.status == "done" and job.done == 3 and job.errors == 1
    results = job.result["results"]
    assert [r["path"] for r in results] == ["red.jpg", "blue.jpg", "broken.jpg"]
    assert [r["label"] for r in results[:2]] == ["red", "blue"]
    (failed,) = store.item_errors(factory, job_id)
    assert failed.item == "broken.jpg" and "broken.jpg" in failed.message
    assert str(tmp_path) not in failed.message
    assert _count(factory) == 0  # gone with the job


def test_cancel_and_sweep_delete_waiting_uploads(factory) -> None:
    cancelled = store.create_job(factory, "classify", {"uploads": 1})
    uploads.store_uploads(factory, cancelled, [("a.jpg", b"a")])
    waiting = store.create_job(factory, "classify", {"uploads": 1})
    uploads.store_uploads(factory, waiting, [("b.jpg", b"b")])
    store.cancel_job(factory, cancelled)
    assert _count(factory) == 1 and uploads.read(factory, cancelled, 0) is None
    failed = store.create_job(factory, "classify", {"uploads": 1})
    uploads.store_uploads(factory, failed, [("c.jpg", b"c")])
    store.fail_job(factory, failed, "a worker died")  # ended without deleting its uploads
    assert uploads.delete_finished(factory) == 1
    assert uploads.read(factory, waiting, 0) == b"b"  # a queued job keeps its photos
