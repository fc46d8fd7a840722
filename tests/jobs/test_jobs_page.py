"""The jobs page in headless Chromium: start an index of a server folder, watch the job's
progress bar and counts, cancel a queued job. Jobs run inline (Celery eager mode)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from smartalbum.config import Settings
from smartalbum.jobs import store
from smartalbum.jobs.app import make_celery, reset
from smartalbum.library.db import open_catalog
from smartalbum.web import create_app
from smartalbum.web.server import make_server

pytestmark = pytest.mark.browser


@pytest.fixture
def live(app_settings) -> Iterator[tuple[str, Settings]]:
    settings = app_settings(
        model={"batch_size": 4},
        jobs={"chunk_size": 4},
        faces={"auto_scan": False},  # the queued face scan: test_index_job_queues_a_face_scan
    )
    app = create_app(settings)
    make_celery(settings).conf.task_always_eager = True
    server = make_server(app, settings, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}", settings
    server.close()
    thread.join(timeout=10)
    reset()


def test_start_an_index_and_watch_it_finish(browser, live, library) -> None:
    base, _ = live
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{base}/jobs")
    assert page.locator("#jobs-empty").is_visible()
    page.fill("#folder", str(library.root))
    page.click("button[type=submit]")
    page.wait_for_selector("#start-status:has-text('Job started')")
    job = page.locator(".job").first
    job.locator(".job-status:has-text('done')").wait_for(timeout=20_000)
    files = len(library.photos) + len(library.bad)
    bar = job.locator("progress")
    assert float(bar.get_attribute("value")) == float(bar.get_attribute("max")) == files
    assert f"{files} / {files} photos" in job.locator(".job-stats").inner_text()
    assert f"{len(library.bad)} could not be indexed" in job.locator(".job-errors").inner_text()
    assert not job.locator(".job-cancel").is_visible()
    assert not page.locator("#jobs-empty").is_visible()
    page.fill("#folder", "relative/folder")
    page.click("button[type=submit]")
    page.wait_for_selector("#start-status:has-text('not an absolute path')")
    assert errors == [] or all("400" in e for e in errors)  # only the refused request
    page.close()


def test_cancel_a_queued_job_from_the_page(browser, live, library) -> None:
    base, settings = live
    _, factory = open_catalog(settings)
    job_id = store.create_job(factory, "index", {"paths": [str(library.root)]})
    page = browser.new_page()
    page.goto(f"{base}/jobs")
    card = page.locator(f"#job-{job_id}")
    card.locator(".job-status:has-text('queued')").wait_for()
    card.locator(".job-cancel").click()
    card.locator(".job-status:has-text('cancelled')").wait_for(timeout=10_000)
    assert store.get_job(factory, job_id).status == "cancelled"
    page.close()


def test_a_large_drop_on_the_classify_page_is_queued_as_jobs(browser, live) -> None:
    """More than 40 photos: the page uploads them as classify jobs (50 per job) and fills
    every tile from the finished jobs' results."""
    from library.photos import COLOURS, encode, picture

    base, settings = live
    colours = [list(COLOURS)[i % 3] for i in range(45)]
    files = [
        {
            "name": f"p{i:02d}.jpg",
            "mimeType": "image/jpeg",
            "buffer": encode(picture(COLOURS[c], i)),
        }
        for i, c in enumerate(colours)
    ]
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{base}/")
    page.wait_for_function("() => document.querySelectorAll('#filters .chip').length > 0")
    page.set_input_files("#file-input", files)
    page.wait_for_function(
        "() => document.querySelectorAll('.tile').length === 45"
        " && document.querySelectorAll('.tile.pending').length === 0",
        timeout=30_000,
    )
    labels = page.evaluate(
        "() => [...document.querySelectorAll('.tile')].map(t => "
        "[t.querySelector('.filename').textContent, t.dataset.label])"
    )
    assert dict(labels) == {f"p{i:02d}.jpg": c for i, c in enumerate(colours)}
    _, factory = open_catalog(settings)
    jobs = store.list_jobs(factory)
    assert [j.kind for j in jobs] == ["classify"] and jobs[0].total == 45
    assert errors == []
    page.close()
