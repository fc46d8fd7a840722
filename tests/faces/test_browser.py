"""The people page and the face boxes of the photo page in headless Chromium, against the
real app on waitress (skipped without Chromium, failed under CI=true like the gallery's)."""

from __future__ import annotations

import threading

import pytest

from smartalbum.faces.service import FaceScanner, pending_photos, thumbnail_dir
from smartalbum.library import db
from smartalbum.web import create_app
from smartalbum.web.server import make_server

pytestmark = pytest.mark.browser


@pytest.fixture
def server(app_settings, faces, photo_maker):
    """A live app over a catalog whose photos of two people were scanned; yields
    (base URL, photo ids)."""
    settings = app_settings()
    factory = db.open_catalog(settings)[1]
    ids = [
        photo_maker(factory, v, f"a{k}") for k, v in enumerate(faces.variants(faces.astronaut)[:2])
    ]
    ids += [
        photo_maker(factory, v, f"b{k}") for k, v in enumerate(faces.variants(faces.others[0])[:2])
    ]
    with factory() as s:
        todo = pending_photos(s)
    FaceScanner(factory, settings.faces, thumbnails=thumbnail_dir(settings.data_dir)).scan(todo)
    app = create_app(settings)
    srv = make_server(app, settings, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.effective_port}", ids
    srv.close()
    srv.task_dispatcher.shutdown()
    thread.join(timeout=5)
    db.dispose_all()


def test_people_page_names_a_person_and_photo_page_shows_boxes(browser, server) -> None:
    base, ids = server
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    asked: list[str] = []
    page.on("request", lambda req: asked.append(req.url) if "/api/v1/faces/" in req.url else None)
    page.goto(f"{base}/people")
    page.wait_for_function("() => document.querySelectorAll('#people .person').length === 2")
    # Every face is shown, a cell of ONE contact sheet: no request per face.
    page.wait_for_function(
        "() => [...document.querySelectorAll('#people .face-cell')]"
        ".every((c) => c.classList.contains('loaded') && c.style.backgroundImage.includes('blob:'))"
    )
    cells = page.locator("#people .face-cell")
    assert cells.count() == 4
    labels = [cells.nth(k).get_attribute("aria-label") for k in range(4)]
    assert all(label and ", face " in label for label in labels)
    assert page.get_by_role("img", name=labels[0]).count() == 1
    assert len({cells.nth(k).evaluate("c => c.style.backgroundPosition") for k in range(4)}) == 4
    links = page.locator("#people .face a[data-viewer-photo]")
    assert links.count() == 4
    sheets = [u for u in asked if "/api/v1/faces/sheet?" in u]
    assert len(sheets) == 1 and sorted(sheets[0].split("ids=")[1].split(",")) == sorted(
        cells.nth(k).get_attribute("data-face-id") for k in range(4)
    )
    assert not [u for u in asked if u.endswith("/thumbnail")]
    name = page.locator("#people .person").first.locator("input[type=text]")
    name.fill("Eileen")
    page.locator("#people .person").first.get_by_role("button", name="Name").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#people input[type=text]')]"
        ".some((i) => i.value === 'Eileen')"
    )
    page.goto(f"{base}/gallery/photos/{ids[0]}")
    page.wait_for_selector(".face-box a", timeout=10_000)
    assert page.locator(".face-box a").first.text_content() in ("Eileen", "Person 1", "Person 2")
    context.close()
    assert problems == []
