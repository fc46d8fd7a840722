"""The jobs page in headless Chromium: start an index of a server folder, watch the job's
progress bar and counts, cancel a queued job; start and end times in the page's language,
rows that keep their order, a bar that slides (never back), a stalled job without an ETA,
the warning when SMARTALBUM_JOBS__ROOTS is unset. Jobs run inline (Celery eager mode)."""

from __future__ import annotations

import re
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
    # the bar slides to the polled value within a poll interval
    page.wait_for_function(
        "() => { const b = document.querySelector('.job progress'); return b.value === b.max; }"
    )
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


def _job_row(factory, kind: str, created, **values) -> str:
    """A job row as workers leave it (no worker runs here)."""
    from sqlalchemy import update

    from smartalbum.library.schema import Job

    job_id = store.create_job(factory, kind, {"paths": ["/photos/x"]})
    with factory.begin() as s:
        s.execute(update(Job).where(Job.id == job_id).values(created_at=created, **values))
    return job_id


def test_times_order_smooth_progress_stalled_and_the_roots_warning(browser, live) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from smartalbum.library.schema import Job

    base, settings = live
    _, factory = open_catalog(settings)
    now = store.utcnow()
    old = now - timedelta(minutes=10)
    finished = _job_row(
        factory,
        "index",
        now - timedelta(hours=2),
        status="done",
        total=5,
        done=5,
        started_at=now - timedelta(hours=2),
        finished_at=now - timedelta(hours=1, minutes=59),
    )
    stalled = _job_row(
        factory,
        "faces",
        now - timedelta(hours=1),
        status="running",
        total=100,
        done=40,
        started_at=old,
        progress_at=old,
    )
    moving = _job_row(
        factory,
        "faces",
        now - timedelta(minutes=30),
        status="running",
        total=1000,
        done=0,
        started_at=now,
        progress_at=now,
    )
    page = browser.new_page(locale="zh-CN", extra_http_headers={"Accept-Language": "zh-CN"})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{base}/jobs")
    page.locator(f"#job-{finished}").wait_for()
    assert page.locator("#roots-notice.warning").is_visible()  # ROOTS unset
    order = lambda: page.eval_on_selector_all(".job", "els => els.map(e => e.id.slice(4))")  # noqa: E731
    assert order() == [moving, stalled, finished]  # newest first

    times = page.locator(f"#job-{finished} .job-times").inner_text()
    start_zh = page.evaluate(
        "iso => new Intl.DateTimeFormat('zh', {dateStyle: 'medium', timeStyle: 'medium'})"
        ".format(new Date(iso))",
        store.job_to_dict(store.get_job(factory, finished))["started_at"],
    )
    assert start_zh in times and "年" in times  # start and end, in the page's locale (zh)

    card = page.locator(f"#job-{stalled}")
    assert card.get_attribute("data-status") == "stalled"
    # (the zh catalogs gain this branch's strings when i18n/pending is merged)
    word, eta = page.evaluate("() => [t('stalled'), t('ETA {eta}', {eta: ''}).trim()]")
    assert card.locator(".job-status").inner_text() == word
    stats = card.locator(".job-stats").inner_text()
    assert word in stats and not re.search(re.escape(eta) + r"\s*\d", stats)  # no ETA figure

    # progress: the bar slides from 0 to the polled 500 (values in between, never back)
    with factory.begin() as s:
        s.execute(update(Job).where(Job.id == moving).values(done=500, progress_at=store.utcnow()))
    page.wait_for_function(f"() => document.querySelector('#job-{moving}').dataset.done === '500'")
    samples = page.evaluate(
        f"""async () => {{
          const bar = document.querySelector('#job-{moving} progress');
          const seen = [];
          for (let i = 0; i < 40; i++) {{
            seen.push(bar.value);
            await new Promise(r => setTimeout(r, 40));
          }}
          return seen;
        }}"""
    )
    assert samples == sorted(samples) and samples[-1] == 500
    assert any(0 < v < 500 for v in samples), samples  # slid, did not jump

    # a new job goes on top; the rows already shown keep their order
    newest = _job_row(factory, "index", store.utcnow(), status="queued")
    page.locator(f"#job-{newest}").wait_for()
    assert order() == [newest, moving, stalled, finished]
    page.wait_for_timeout(1500)  # more polls: nothing moves
    assert order() == [newest, moving, stalled, finished]
    assert errors == []
    page.close()


def test_the_page_names_the_roots_when_they_are_set(app_settings, tmp_path) -> None:
    settings = app_settings(jobs={"roots": [str(tmp_path)]})
    html = create_app(settings).test_client().get("/jobs").get_data(as_text=True)
    assert 'id="roots-notice" class="notice"' in html and str(tmp_path) in html
    assert "any path the server process can read" not in html
