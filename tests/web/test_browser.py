"""The page in headless Chromium against the real app on waitress.

Skipped (with the reason) where Chromium is not installed, except under CI=true, where a
missing browser is a failure: CI must run these.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

HTML_NAME = "<img src=x onerror=alert(1)>.jpg"

pytestmark = pytest.mark.browser

# The ``browser`` fixture (headless Chromium, skipped or failed as said above) is in
# conftest.py, shared with the gallery's browser tests.


def console_error(msg) -> bool:
    """Console errors, except Chrome's note on the 401 that the API-key test expects."""
    return msg.type == "error" and "status of 401" not in msg.text


@pytest.fixture
def open_page(browser, live_server) -> Iterator:
    """``open_page(url=None)``: the page in a fresh browser context; after the test, fails
    it on any script error, CSP violation or dialog (a script run from a filename)."""
    opened = []

    def open_(url: str | None = None):
        # reduced motion: no colour transitions, so computed colours are final at once
        context = browser.new_context(accept_downloads=True, reduced_motion="reduce")
        pg = context.new_page()
        problems: list[str] = []
        dialogs: list[str] = []
        pg.on("pageerror", lambda exc: problems.append(str(exc)))
        pg.on("console", lambda msg: problems.append(msg.text) if console_error(msg) else None)
        pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        pg.goto(f"{url or live_server}/")
        opened.append((context, problems, dialogs))
        return pg

    yield open_
    for context, problems, dialogs in opened:
        context.close()
        assert dialogs == [], "a script ran from a filename"
        assert problems == []


@pytest.fixture
def page(open_page):
    """The page on the default live server, with the model loaded."""
    pg = open_page()
    pg.wait_for_function("() => document.querySelectorAll('#filters .chip').length > 0")
    return pg


def wait_until_sorted(page, count: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('.tile').length === n"
        " && document.querySelectorAll('.tile.pending').length === 0",
        arg=count,
        timeout=30_000,
    )


def chip_counts(page) -> dict[str, int]:
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#filters .chip')].map(
               c => [c.dataset.filter, Number(c.querySelector('.count').textContent)]))"""
    )


def tiles(page) -> list[dict]:
    return page.evaluate(
        """() => [...document.querySelectorAll('.tile')].map(t => ({
               name: t.querySelector('.filename').textContent,
               state: t.dataset.state,
               label: t.querySelector('.label').textContent,
               visible: !t.hidden,
               border: getComputedStyle(t).borderTopColor,
           }))"""
    )


def swatch_colours(page) -> dict[str, str]:
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#filters .chip .swatch')].map(
               s => [s.parentElement.dataset.filter.slice(6), getComputedStyle(s).backgroundColor]))"""
    )


def upload(page, photo) -> None:
    files = [
        ("red.jpg", photo("red", seed=1), "image/jpeg"),
        ("green.jpg", photo("green", seed=2), "image/jpeg"),
        ("blue.png", photo("blue", fmt="PNG", seed=3), "image/png"),
        ("red-2.jpg", photo("red", seed=4), "image/jpeg"),
        ("notes.txt", b"not a photo at all", "text/plain"),
        (HTML_NAME, photo("red", seed=5), "image/jpeg"),
    ]
    page.set_input_files(
        "#file-input", [{"name": n, "mimeType": t, "buffer": b} for n, b, t in files]
    )


def test_picked_photos_get_coloured_tiles_counts_and_an_error_tile(page, photo) -> None:
    upload(page, photo)
    wait_until_sorted(page, 6)
    by_name = {t["name"]: t for t in tiles(page)}
    assert set(by_name) == {"red.jpg", "green.jpg", "blue.png", "red-2.jpg", "notes.txt", HTML_NAME}
    for name, label in [
        ("red.jpg", "red"),
        ("green.jpg", "green"),
        ("blue.png", "blue"),
        ("red-2.jpg", "red"),
        (HTML_NAME, "red"),
    ]:
        assert (by_name[name]["state"], by_name[name]["label"]) == ("done", label), name

    # each tile's border has its class's colour from the legend, and the classes differ
    swatches = swatch_colours(page)
    assert len(set(swatches.values())) == 3
    for name in ("red.jpg", "green.jpg", "blue.png"):
        assert by_name[name]["border"] == swatches[by_name[name]["label"]]

    error = by_name["notes.txt"]
    assert error["state"] == "error" and error["label"] == "Not an image"
    assert chip_counts(page) == {
        "all": 6,
        "label:red": 3,
        "label:green": 1,
        "label:blue": 1,
        "uncertain": 0,
        "error": 1,
    }
    assert "6 of 6 photos sorted" in page.text_content("#progress-text")


def test_a_filename_with_html_stays_text(page, photo) -> None:
    upload(page, photo)
    wait_until_sorted(page, 6)
    assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
    names = page.evaluate(
        "() => [...document.querySelectorAll('.filename')].map(e => e.textContent)"
    )
    assert HTML_NAME in names
    tile = page.locator(".tile", has_text="onerror")
    assert tile.locator(".filename").evaluate("e => e.children.length") == 0


def test_dropped_files_are_sorted_too(page, photo) -> None:
    files = [
        {
            "name": "dropped-green.jpg",
            "type": "image/jpeg",
            "b64": base64.b64encode(photo("green", seed=11)).decode(),
        },
        {
            "name": "dropped-blue.jpg",
            "type": "image/jpeg",
            "b64": base64.b64encode(photo("blue", seed=12)).decode(),
        },
    ]
    page.evaluate(
        """files => {
            const dt = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.b64), c => c.charCodeAt(0));
                dt.items.add(new File([bytes], f.name, {type: f.type}));
            }
            const zone = document.getElementById('drop-zone');
            zone.dispatchEvent(new DragEvent('dragenter', {dataTransfer: dt, bubbles: true}));
            zone.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true,
                                                      cancelable: true}));
        }""",
        files,
    )
    wait_until_sorted(page, 2)
    labels = {t["name"]: t["label"] for t in tiles(page)}
    assert labels == {"dropped-green.jpg": "green", "dropped-blue.jpg": "blue"}
    assert chip_counts(page)["label:green"] == 1


def test_filter_shows_one_class_and_exports_download_results(page, photo) -> None:
    upload(page, photo)
    wait_until_sorted(page, 6)
    page.click('#filters .chip[data-filter="label:red"]')
    visible = {t["name"] for t in tiles(page) if t["visible"]}
    assert visible == {"red.jpg", "red-2.jpg", HTML_NAME}
    assert page.get_attribute('#filters .chip[data-filter="label:red"]', "aria-pressed") == "true"
    page.click('#filters .chip[data-filter="error"]')
    assert {t["name"] for t in tiles(page) if t["visible"]} == {"notes.txt"}

    with page.expect_download() as dl:
        page.click("#export-json")
    exported = json.loads(Path(dl.value.path()).read_text())
    rows = {r["filename"]: r for r in exported["results"]}
    assert rows["green.jpg"]["label"] == "green"
    assert rows["notes.txt"]["error"]["code"] == "not_an_image"

    with page.expect_download() as dl:
        page.click("#export-csv")
    csv_text = Path(dl.value.path()).read_text()
    header, *lines = csv_text.strip().splitlines()
    assert header.startswith("filename,label,confidence,uncertain,p_red,p_green,p_blue")
    assert len(lines) == 6
    assert any(line.startswith("blue.png,blue,") for line in lines)


def test_api_key_prompt_and_files_over_the_limit(open_page, start_server, photo) -> None:
    url = start_server(api_key="s3cret", max_upload_mb=0.05)
    pg = open_page(url)
    pg.wait_for_selector("#key-panel:not([hidden])")
    pg.fill("#api-key", "s3cret")
    pg.click("#key-form button")
    pg.wait_for_function("() => document.querySelectorAll('#filters .chip').length > 0")
    pg.set_input_files(
        "#file-input",
        [
            {"name": "ok.jpg", "mimeType": "image/jpeg", "buffer": photo("blue")},
            {"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": b"\xff" * 60_000},
        ],
    )
    wait_until_sorted(pg, 2)
    by_name = {t["name"]: t for t in tiles(pg)}
    assert (by_name["ok.jpg"]["state"], by_name["ok.jpg"]["label"]) == ("done", "blue")
    assert (by_name["huge.jpg"]["state"], by_name["huge.jpg"]["label"]) == ("error", "Too large")
