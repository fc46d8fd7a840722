"""faces.hooks: after an index, a face scan is queued (background jobs, and the CLI when
workers are configured) or suggested in one line; never run inline."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartalbum.config import Settings
from smartalbum.faces.hooks import HINT, scan_indexed_folders
from smartalbum.jobs import store
from smartalbum.jobs.app import reset
from smartalbum.library import db
from smartalbum.library.hooks import HOOKS, IndexedPhotos


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    return Settings(data_dir=data, database_url=f"sqlite:///{data / 'catalog.sqlite3'}")


def _event(settings: Settings, **kwargs) -> IndexedPhotos:
    _, factory = db.open_catalog(settings)
    kwargs.setdefault("final", True)
    return IndexedPhotos(factory, settings, ("/photos/2024",), **kwargs)


def _kinds(event: IndexedPhotos) -> list[str]:
    return [job.kind for job in store.list_jobs(event.factory)]


def test_the_faces_hook_is_registered_by_load_features() -> None:
    from smartalbum.features import load_features

    load_features()
    assert HOOKS["smartalbum.faces.hooks.scan_indexed_folders"] is scan_indexed_folders
    names = list(HOOKS)
    assert names.index("smartalbum.tags.hooks.tag_indexed_photos") < names.index(
        "smartalbum.faces.hooks.scan_indexed_folders"
    )


def test_a_cli_index_without_workers_gets_a_hint_only_when_it_found_new_photos(settings):
    event = _event(settings, photo_ids=(1, 2))
    scan_indexed_folders(event)
    assert event.notes == [HINT] and _kinds(event) == []
    quiet = _event(settings)  # nothing new: nothing to say
    scan_indexed_folders(quiet)
    assert quiet.notes == []


@pytest.mark.parametrize(
    "faces, final", [({"auto_scan": False}, True), ({"enabled": False}, True), ({}, False)]
)
def test_no_scan_when_switched_off_or_before_the_index_is_done(tmp_path, faces, final):
    data = tmp_path / "data"
    settings = Settings(data_dir=data, database_url=f"sqlite:///{data / 'c.sqlite3'}", faces=faces)
    for job_id in (None, "j1"):
        event = _event(settings, final=final, photo_ids=(1,), job_id=job_id)
        scan_indexed_folders(event)
        assert event.notes == [] and _kinds(event) == []


def test_a_cli_index_queues_the_scan_when_workers_share_its_catalog(tmp_path):
    data = tmp_path / "data"
    settings = Settings(
        data_dir=data, database_url=f"sqlite:///{data / 'c.sqlite3'}", broker_url="memory://"
    )
    try:
        event = _event(settings, photo_ids=(1,))
        scan_indexed_folders(event)
        (job,) = store.list_jobs(event.factory)
        assert job.kind == "faces" and job.params == {"paths": ["/photos/2024"]}
        assert event.notes == [f"faces: scan of the new photos queued as job {job.id}"]
        # another catalog (--database-url) than the workers': a hint, no job
        _, other = db.open_catalog(url=f"sqlite:///{tmp_path / 'other.sqlite3'}")
        elsewhere = IndexedPhotos(other, settings, ("/p",), final=True, photo_ids=(1,))
        scan_indexed_folders(elsewhere)
        assert elsewhere.notes == [HINT] and store.list_jobs(other) == []
    finally:
        reset()
