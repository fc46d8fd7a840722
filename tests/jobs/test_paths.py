"""Issue 16 item 5: paths. With SMARTALBUM_JOBS__ROOTS set, destinations are checked like
sources and symlinks are resolved first; without roots the server says so, and a
non-loopback ``serve`` without an API key or roots refuses to start unless allowed."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from library.photos import make_library
from smartalbum.jobs.app import make_celery, reset
from smartalbum.jobs.roots import check_within_roots, within_roots
from smartalbum.library.db import open_catalog
from smartalbum.library.schema import File, Job
from smartalbum.web import create_app
from smartalbum.web import server as server_mod


@pytest.fixture
def rooted(app_settings, tmp_path: Path):
    """(client, settings, root): an app whose jobs may use ``root`` only; jobs run inline."""
    root = tmp_path / "root"
    root.mkdir()
    settings = app_settings(model={"batch_size": 4}, jobs={"chunk_size": 4, "roots": [root]})
    app = create_app(settings)
    make_celery(settings).conf.task_always_eager = True
    yield app.test_client(), settings, root
    reset()


def _jobs(settings) -> int:
    with open_catalog(settings)[1]() as s:
        return s.scalar(select(func.count()).select_from(Job))


def test_organise_into_a_folder_outside_the_roots_is_refused(rooted, tmp_path: Path) -> None:
    client, settings, root = rooted
    (root / "escape").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    for into in ("/anywhere", str(tmp_path / "elsewhere"), str(root / "escape" / "sorted")):
        response = client.post("/api/v1/jobs", json={"kind": "organize", "into": into})
        assert response.status_code == 400, (into, response.get_data(as_text=True))
        assert response.get_json()["code"] == "path_not_allowed"  # as for sources
    assert _jobs(settings) == 0  # nothing was queued
    inside = client.post("/api/v1/jobs", json={"kind": "organize", "into": str(root / "sorted")})
    assert inside.status_code == 202, inside.get_data(as_text=True)


def test_a_symlinked_file_pointing_outside_the_roots_is_not_indexed(rooted, tmp_path: Path) -> None:
    client, settings, root = rooted
    library = make_library(root / "photos")
    secret = make_library(tmp_path / "outside")
    target = secret.path(secret.good[0])
    (library.root / "link.jpg").symlink_to(target)
    response = client.post("/api/v1/jobs", json={"kind": "index", "paths": [str(library.root)]})
    assert response.status_code == 202
    job = client.get(response.headers["Location"]).get_json()
    assert job["status"] == "done", job
    with open_catalog(settings)[1]() as s:
        paths = set(s.scalars(select(File.path)))
    assert paths and not any("link.jpg" in p or p.startswith(str(secret.root)) for p in paths)
    photos = client.get("/api/v1/photos?limit=100").get_json()
    for photo in photos["items"]:  # every photo it serves a thumbnail of is inside
        assert client.get(f"/api/v1/photos/{photo['id']}/thumbnail").status_code == 200
    assert len(photos["items"]) == library.distinct


def test_roots_resolve_symlinks(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    assert within_roots(root / "a" / "b", [root])
    assert not within_roots(root / "link" / "x", [root])
    assert not within_roots(root / ".." / "outside", [root])
    assert within_roots("/anywhere", [])  # no roots: anything
    with pytest.raises(Exception) as caught:
        check_within_roots(root / "link", [root], "'into'")
    assert caught.value.code == "path_not_allowed" and caught.value.status == 400


def test_an_organise_job_outside_the_roots_fails_in_the_worker_too(app_settings, tmp_path):
    """A job row made without the API (or before roots were set) is checked by the runner."""
    from smartalbum.jobs import kinds, store

    root = tmp_path / "root"
    root.mkdir()
    settings = app_settings(jobs={"roots": [root]})
    factory = open_catalog(settings)[1]
    job_id = store.create_job(factory, "organize", {"into": str(tmp_path / "out")})
    kinds.run(settings, factory, job_id)
    job = store.get_job(factory, job_id)
    assert job.status == "failed" and "outside" in job.message
    assert not (tmp_path / "out").exists()


def test_serve_on_a_network_address_without_key_or_roots_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from smartalbum.cli import main

    for name in ("SMARTALBUM_WEB__API_KEY", "SMARTALBUM_JOBS__ROOTS", "SMARTALBUM_WEB__ALLOW_OPEN"):
        monkeypatch.delenv(name, raising=False)
    started = []
    monkeypatch.setattr(server_mod, "_serve_web", lambda *a, **kw: started.append(a))
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--no-worker"])
    assert result.exit_code == 2 and not started
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: cannot start: refusing to serve on 0.0.0.0")
    assert "--allow-open" in lines[-1] and "Traceback" not in result.output
    allowed = CliRunner().invoke(
        main, ["serve", "--host", "0.0.0.0", "--no-worker", "--allow-open"]
    )
    assert allowed.exit_code == 0, allowed.output
    assert len(started) == 1


def test_exposure_rules(app_settings, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    open_settings = app_settings()
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert server_mod.exposure_problem(open_settings, host) is None
    for host in ("0.0.0.0", "192.168.1.10", "::", "photos.example"):
        assert "refusing" in server_mod.exposure_problem(open_settings, host)
    keyed = app_settings(web={"api_key": "k"})
    assert server_mod.exposure_problem(keyed, "0.0.0.0") is None
    safe = app_settings(jobs={"roots": [tmp_path]})  # docker-compose.yml: roots, no key
    assert server_mod.exposure_problem(safe, "0.0.0.0") is None
    allowed = app_settings(web={"allow_open": True})
    assert server_mod.exposure_problem(allowed, "0.0.0.0") is None
    with caplog.at_level(logging.WARNING, logger="smartalbum.web.server"):
        server_mod.warn_open_paths(open_settings)
        server_mod.warn_open_paths(safe)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "may read" in warnings[0] and "any" in warnings[0]


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path: Path):
    yield
    shutil.rmtree(tmp_path / "root", ignore_errors=True)
