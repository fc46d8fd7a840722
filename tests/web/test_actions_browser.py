"""Issue 15's actions in headless Chromium against the real app on waitress: drop photos,
reload (the results stay), add them to the library (they open in the viewer grid, and a
correction is stored); a duplicate resolved and undone from the page; a merge confirmed in
the dialog and undone."""

from __future__ import annotations

import hashlib

import pytest
from gallery_catalog import index_into

from faces.test_actions import seed_people
from library.photos import Library
from smartalbum.library import db

pytestmark = pytest.mark.browser


def test_drop_survives_a_reload_then_add_to_library_and_correct(
    open_page, start_server, make_settings, photo
) -> None:
    base = start_server()
    page = open_page(f"{base}/")
    page.wait_for_function("() => document.querySelectorAll('#filters .chip').length > 0")
    files = [("red.jpg", photo("red", seed=1)), ("green.jpg", photo("green", seed=2))]
    page.set_input_files(
        "#file-input", [{"name": n, "mimeType": "image/jpeg", "buffer": b} for n, b in files]
    )
    page.wait_for_function("() => document.querySelectorAll('.tile.done').length === 2")
    assert page.evaluate("() => document.getElementById('drop-zone').classList.contains('compact')")
    top = page.evaluate("() => document.getElementById('results').getBoundingClientRect().top")
    assert top < page.viewport_size["height"]  # the results start in view

    # the list is kept once both results are in (saved after the tiles are drawn)
    page.wait_for_function(
        "() => (JSON.parse(sessionStorage.getItem('smartalbum-drop-results') || '[]')"
        ".filter(e => e.status === 'done').length === 2)"
    )
    page.reload()
    page.wait_for_function("() => document.querySelectorAll('.tile.done').length === 2")
    labels = page.eval_on_selector_all(".tile .label", "els => els.map(e => e.textContent)")
    assert sorted(labels) == ["green", "red"]

    page.click("#add-library")
    page.wait_for_function("() => document.querySelectorAll('[data-viewer-photo]').length === 2")
    folder = make_settings().data_dir / "library" / "Dropped"
    copied = {p.name: p.read_bytes() for p in folder.rglob("*.jpg")}
    assert copied == dict(files)
    assert page.locator("#results[data-viewer-grid]").count() == 1

    # a correction from the tile's menu is stored in the catalog
    red = page.locator(".tile", has_text="red.jpg")
    red.locator(".fix-menu summary").click()
    red.locator(".fix-option[data-label='blue']").click()
    page.wait_for_function(
        "() => /corrected to blue/.test(document.getElementById('live').textContent)"
    )
    photo_id = red.locator("[data-viewer-photo]").get_attribute("data-viewer-photo")
    detail = page.evaluate(f"() => fetch('/api/v1/photos/{photo_id}').then(r => r.json())")
    assert detail["label"] == "blue" and detail["label_source"] == "correction"


def test_a_duplicate_resolved_and_undone(
    open_page, start_server, photo_library: Library, tmp_path, tiny_bundle_dir
) -> None:
    url = f"sqlite:///{tmp_path / 'dups.sqlite3'}"
    index_into(url, tiny_bundle_dir, photo_library.root)
    before = {
        p: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in photo_library.root.rglob("*")
        if p.is_file()
    }
    base = start_server(database_url=url)
    page = open_page(f"{base}/gallery/duplicates")
    page.wait_for_selector(".dup-group .keep-button")
    assert not page.is_visible("#undo-bar")  # nothing to undo yet
    groups = page.locator(".dup-group").count()
    page.locator(".dup-group").first.locator(".keep-button").first.click()
    page.click("#confirm-dialog .confirm-ok")
    page.wait_for_selector("#undo-bar:not([hidden])")
    page.wait_for_function(
        "n => document.querySelectorAll('.dup-group').length === n - 1", arg=groups
    )
    after_resolve = [p for p in before if not p.exists()]
    assert len(after_resolve) == 1
    page.click("#undo-bar .undo-button")
    page.wait_for_selector("#undo-bar", state="hidden")
    page.wait_for_function("n => document.querySelectorAll('.dup-group').length === n", arg=groups)
    now = {
        p: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in photo_library.root.rglob("*")
        if p.is_file()
    }
    assert now == before


def test_a_merge_confirmed_then_undone(open_page, start_server, make_settings, tmp_path) -> None:
    base = start_server()
    factory = db.open_catalog(make_settings())[1]
    seed = seed_people(factory, tmp_path)
    a, b = seed["people"]
    page = open_page(f"{base}/people")
    page.wait_for_function("() => document.querySelectorAll('.merge-pick').length === 2")
    assert not page.is_visible("#undo-bar")
    for pick in page.locator(".merge-pick").all():
        pick.check()
    page.click("#merge")
    page.wait_for_selector("#confirm-dialog[open]")
    page.click("#confirm-dialog button[value=cancel]")  # asked, and nothing happened
    assert page.locator(".person").count() == 2
    page.click("#merge")
    page.click("#confirm-dialog .confirm-ok")
    page.wait_for_function("() => document.querySelectorAll('.person').length === 1")
    page.click("#undo-bar .undo-button")
    page.wait_for_function("() => document.querySelectorAll('.person').length === 2")
    faces = page.evaluate("() => fetch('/api/v1/people').then(r => r.json())")
    assert {p["id"]: p["faces"] for p in faces["people"]} == {a: 3, b: 2}

    # a person's page lists their photos in a viewer grid
    page.goto(f"{base}/people/{a}")
    page.wait_for_function(
        "() => document.querySelectorAll('#person-photos [data-viewer-photo]').length === 3"
    )
    assert page.locator("#person-photos[data-viewer-grid]").count() == 1
