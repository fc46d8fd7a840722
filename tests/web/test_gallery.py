"""The gallery pages: served, self-contained and CSP-safe, and working in headless Chromium
against the real app on waitress over an indexed catalog (browse, correct in one click,
infinite scroll, review, duplicates, one photo).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import requests
from gallery_catalog import index_into

import smartalbum.web
from library.photos import Library, encode

WEB = Path(smartalbum.web.__file__).parent
TEMPLATES = [
    WEB / "templates" / "_nav.html",
    *sorted((WEB / "templates" / "gallery").glob("*.html")),
]
PAGES = {
    "/gallery": [
        "facet-labels",
        "facet-dates",
        "facet-places",
        "photos",
        "load-more",
        "sentinel",
        "timeline-list",
        "selection-bar",
        "label-menu",
        "bulk-dialog",
        "toast",
        "open-filters",
    ],
    "/gallery/review": ["review-tabs", "photos", "load-more", "selection-bar", "label-menu"],
    "/gallery/duplicates": ["groups", "group-template", "member-template", "load-more"],
    "/gallery/photos/7": ["photo", "photo-fix", "photo-facts", "photo-files"],
    "/gallery/trips": ["trips", "trip-template", "trips-home", "empty"],
}


# -- pages and their files -------------------------------------------------------------------


def test_gallery_pages_are_served_with_their_assets(client) -> None:
    for url, ids in PAGES.items():
        resp = client.get(url)
        assert resp.status_code == 200 and resp.mimetype == "text/html", url
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
        html = resp.get_data(as_text=True)
        for element in ids:
            assert f'id="{element}"' in html, (url, element)
        assets = set(re.findall(r'(?:src|href)="(/static/[^"]+)"', html))
        assert {"/static/gallery.js", "/static/gallery.css", "/static/app.css"} <= assets
        for asset in assets:
            got = client.get(asset)
            assert got.status_code == 200, asset
            got.close()
    assert 'data-photo-id="7"' in client.get("/gallery/photos/7").get_data(as_text=True)
    assert client.get("/gallery/photos/x").status_code == 404


def test_every_page_links_the_sections_and_marks_its_own(client) -> None:
    for url, current in [
        ("/", "/"),
        ("/gallery", "/gallery"),
        ("/gallery/review", "/gallery/review"),
        ("/gallery/duplicates", "/gallery/duplicates"),
        ("/gallery/trips", "/gallery/trips"),
        ("/gallery/photos/3", "/gallery"),
        ("/people", "/people"),
        ("/categories", "/categories"),
    ]:
        html = client.get(url).get_data(as_text=True)
        nav = re.search(r'<nav class="topnav".*?</nav>', html, flags=re.S).group(0)
        links = re.findall(r'<a href="([^"]+)"', nav)
        assert links == [
            "/",
            "/gallery",
            "/gallery/review",
            "/gallery/duplicates",
            "/gallery/trips",
            "/people",
            "/categories",
            "/jobs",
        ], url
        assert re.findall(r'<a href="([^"]+)" aria-current="page"', nav) == [current], url


def test_no_inline_script_or_style_and_nothing_from_elsewhere() -> None:
    for path in TEMPLATES:
        html = path.read_text()
        for body in re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.S):
            assert body.strip() == "", f"inline script in {path.name}"
        assert "<style" not in html and " style=" not in html, path.name
        assert not re.search(r"\son[a-z]+=", html), f"inline event handler in {path.name}"
    for path in [*TEMPLATES, WEB / "static" / "gallery.js", WEB / "static" / "gallery.css"]:
        assert not re.search(r"https?://|//cdn|@import", path.read_text()), path.name


def test_gallery_script_never_inserts_html() -> None:
    js = (WEB / "static" / "gallery.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in js, sink


def test_pages_are_public_but_their_data_needs_the_key(make_app) -> None:
    client = make_app(api_key="s3cret").test_client()
    for url in [*PAGES, "/jobs"]:
        assert client.get(url).status_code == 200, url
    for url in (
        "/api/v1/photos",
        "/api/v1/stats",
        "/api/v1/duplicates",
        "/api/v1/photos/1",
        "/api/v1/trips",
        "/api/v1/jobs",
    ):
        assert client.get(url).status_code == 401, url
    assert client.get("/api/v1/photos/1/thumbnail").status_code == 401
    ok = client.get("/api/v1/photos", headers={"X-API-Key": "s3cret"})
    assert ok.status_code == 200


def test_thumbnails_do_not_count_against_the_rate_limit(make_app) -> None:
    client = make_app(rate_limit="2 per minute").test_client()
    for _ in range(5):
        assert client.get("/api/v1/photos/1/thumbnail").status_code == 404
    assert [client.get("/api/v1/photos").status_code for _ in range(3)] == [200, 200, 429]


# -- in the browser --------------------------------------------------------------------------


@pytest.fixture
def gallery(open_page, start_server, photo_library, tiny_bundle_dir, tmp_path) -> Callable:
    """``gallery(path, *extra_folders)``: a page of a live server over the generated
    library (and the extra folders), indexed into a fresh SQLite catalog. After the test,
    fails on any script error, CSP violation or console error (``open_page``)."""

    def open_(path: str, *extra: Path):
        url = f"sqlite:///{tmp_path / 'gallery.sqlite3'}"
        index_into(url, tiny_bundle_dir, photo_library.root, *extra)
        base = start_server(database_url=url)
        page = open_page(base + path, 1200, 800)
        page.base = base
        return page

    return open_


def wait_for_tiles(page, count: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('#photos .tile').length === n", arg=count, timeout=20_000
    )


def tiles(page) -> list[dict]:
    return page.evaluate(
        """() => [...document.querySelectorAll('#photos .tile')].map(t => ({
               id: Number(t.dataset.id), label: t.querySelector('.label').textContent,
               source: t.dataset.source, thumb: t.querySelector('img').naturalWidth,
               uncertain: !t.querySelector('.badge').hidden,
           }))"""
    )


def facet_count(page, name: str) -> int:
    return page.evaluate(
        """name => Number([...document.querySelectorAll('#facet-labels .facet')]
               .find(a => a.querySelector('.facet-name').textContent === name)
               .querySelector('.count').textContent)""",
        name,
    )


@pytest.mark.browser
def test_browse_and_correct_a_label_in_one_click(gallery, photo_library: Library) -> None:
    page = gallery("/gallery")
    wait_for_tiles(page, photo_library.distinct)
    page.wait_for_function("() => document.querySelectorAll('#facet-labels .facet').length === 4")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#photos img')].every(i => i.complete && i.naturalWidth)"
    )
    shown = tiles(page)
    assert {t["label"] for t in shown} == {"red", "green", "blue"}
    assert all(t["thumb"] > 0 and t["source"] == "prediction" for t in shown)
    blue_before = facet_count(page, "blue")

    red = next(t for t in shown if t["label"] == "red")
    tile = page.locator(f'#photos .tile[data-id="{red["id"]}"]')
    # a calm tile: no row of correction buttons, one menu button
    assert tile.locator("button").count() == 1
    tile.locator(".tile-menu-button").click()
    page.click('#label-menu .menu-item[data-label="blue"]')
    page.wait_for_function(
        """id => { const t = document.querySelector(`#photos .tile[data-id="${id}"]`);
                   return t.dataset.source === 'correction'
                       && t.querySelector('.label').textContent === 'blue'; }""",
        arg=red["id"],
    )
    assert page.is_visible("#toast")
    detail = requests.get(f"{page.base}/api/v1/photos/{red['id']}", timeout=10).json()
    assert (detail["label"], detail["label_source"]) == ("blue", "correction")
    page.wait_for_function(
        """n => [...document.querySelectorAll('#facet-labels .facet')].some(a =>
               a.querySelector('.facet-name').textContent === 'blue'
               && Number(a.querySelector('.count').textContent) === n)""",
        arg=blue_before + 1,
    )

    # a category link filters the grid without a page load, and the URL says so
    page.click("#facet-labels .facet >> text=blue")
    page.wait_for_function(
        "() => document.querySelectorAll('#photos .tile').length > 0 && "
        "[...document.querySelectorAll('#photos .tile .label')].every(l => l.textContent === 'blue')"
    )
    assert page.url.endswith("/gallery?label=blue")
    assert red["id"] in {t["id"] for t in tiles(page)}
    assert page.text_content("#view-title") == "blue"


@pytest.mark.browser
def test_scrolling_down_loads_every_page(gallery, photo_library: Library, tmp_path) -> None:
    extra = tmp_path / "more"
    extra.mkdir()
    rng = np.random.default_rng(3)
    for n in range(110):
        pixels = rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
        (extra / f"noise_{n:03d}.jpg").write_bytes(encode(pixels))
    total = photo_library.distinct + 110
    page = gallery("/gallery", extra)
    wait_for_tiles(page, 60)  # the first page only
    for _ in range(20):
        page.locator("#sentinel").scroll_into_view_if_needed()
        if page.evaluate("() => document.querySelectorAll('#photos .tile').length") == total:
            break
        page.wait_for_timeout(300)
    wait_for_tiles(page, total)
    ids = [t["id"] for t in tiles(page)]
    assert len(set(ids)) == total
    assert page.is_hidden("#load-more") and page.is_hidden("#empty")


@pytest.mark.browser
def test_review_duplicates_and_photo_pages(gallery, photo_library: Library) -> None:
    page = gallery("/gallery/duplicates")
    page.wait_for_function("() => document.querySelectorAll('.dup-group').length === 2")
    groups = page.evaluate(
        """() => [...document.querySelectorAll('.dup-group')].map(g => ({
               members: g.querySelectorAll('.dup-member').length,
               keep: [...g.querySelectorAll('.dup-member')].map(m => !m.querySelector('.keep-mark').hidden),
               title: g.querySelector('.dup-title').textContent,
           }))"""
    )
    assert groups == [
        {"members": 2, "keep": [True, False], "title": "2 identical copies"},
        {"members": 2, "keep": [True, False], "title": "2 identical copies"},
    ]

    stats = requests.get(f"{page.base}/api/v1/stats", timeout=10).json()
    page.goto(f"{page.base}/gallery/review?reason=bad_exposure")
    wait_for_tiles(page, stats["review"]["bad_exposure"])
    assert page.get_attribute('#review-tabs [data-reason="bad_exposure"]', "aria-pressed") == "true"
    page.wait_for_function(
        "n => document.querySelector('#review-tabs [data-reason=\"review\"] .count').textContent === String(n)",
        arg=stats["review"]["any"],
    )
    reasons = page.evaluate(
        "() => [...document.querySelectorAll('#photos .tile .reasons')].map(r => r.textContent)"
    )
    assert reasons and set(reasons) == {"badly exposed"}

    items = requests.get(f"{page.base}/api/v1/photos?country=IT", timeout=10).json()["items"]
    (arezzo,) = items
    page.goto(f"{page.base}/gallery/photos/{arezzo['id']}")
    page.wait_for_selector("#photo:not([hidden])")
    facts = page.text_content("#photo-facts")
    assert "NIKON COOLPIX P6000" in facts and "Arezzo" in facts and "Italy" in facts
    assert page.text_content("#photo-label") == "green"
    page.click('#photo-fix .fix-button[data-label="red"]')
    page.wait_for_function("() => document.querySelector('#photo-label').textContent === 'red'")
    assert page.text_content("#photo-source") == "your label"
    # hovering the pressed label keeps its full colour (it was white on a pale tint)
    pressed = page.locator('#photo-fix .fix-button[aria-pressed="true"]')
    pressed.hover()
    # the buttons' colour transitions (app.css) end first: compare settled colours
    pressed.evaluate("b => Promise.all(b.getAnimations().map(a => a.finished))")
    colours = pressed.evaluate(
        "b => { const s = getComputedStyle(b); return [s.backgroundColor, s.borderTopColor]; }"
    )
    assert colours[0] == colours[1]
    assert page.text_content("#photo-corrections").startswith("red")


# -- the calm gallery: first screen, selection, keyboard, leaving a filtered view -----------


def noise_folder(tmp_path: Path, n: int) -> Path:
    """``n`` small distinct photos (enough to fill a first screen)."""
    extra = tmp_path / "more"
    extra.mkdir()
    rng = np.random.default_rng(5)
    for k in range(n):
        pixels = rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
        (extra / f"noise_{k:03d}.jpg").write_bytes(encode(pixels))
    return extra


FULLY_VISIBLE = """() => [...document.querySelectorAll('#photos .tile')].filter(t => {
    const r = t.getBoundingClientRect();
    return r.width > 0 && r.top >= 0 && r.left >= 0
        && r.bottom <= window.innerHeight && r.right <= window.innerWidth;
}).length"""


@pytest.mark.browser
def test_the_first_screen_shows_photos_on_a_laptop_and_a_phone(gallery, tmp_path) -> None:
    page = gallery("/gallery", noise_folder(tmp_path, 40))
    page.set_viewport_size({"width": 1366, "height": 768})
    wait_for_tiles(page, 60)
    assert page.evaluate(FULLY_VISIBLE) >= 12
    # photos are grouped under month headers, and the timeline lists the months
    assert page.locator("#photos .month .month-title").count() >= 1
    page.wait_for_function(
        "() => document.querySelectorAll('#timeline-list .timeline-month').length > 0"
    )

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    wait_for_tiles(page, 60)
    assert page.evaluate(FULLY_VISIBLE) >= 2
    # the filters wait in a drawer
    assert page.is_hidden("#filters")
    page.click("#open-filters")
    assert page.is_visible("#facet-labels")
    page.keyboard.press("Escape")
    assert page.is_hidden("#filters")


@pytest.mark.browser
def test_shift_click_selects_a_range_and_one_correction_labels_them_all(gallery, tmp_path) -> None:
    page = gallery("/gallery", noise_folder(tmp_path, 10))
    wait_for_tiles(page, len(requests_ids(page)))
    ids = [t["id"] for t in tiles(page)][:5]
    page.locator(f'#photos .tile[data-id="{ids[0]}"] .pick-box').click()
    page.locator(f'#photos .tile[data-id="{ids[4]}"] .pick-box').click(modifiers=["Shift"])
    assert page.text_content("#selection-count") == "5"
    assert page.is_visible("#selection-bar")
    page.click("#bulk-label")
    page.click('#label-menu .menu-item[data-label="blue"]')
    page.wait_for_function(
        """ids => ids.every(id => document.querySelector(`#photos .tile[data-id="${id}"]`)
                     .dataset.source === 'correction')""",
        arg=ids,
    )
    for photo_id in ids:
        detail = requests.get(f"{page.base}/api/v1/photos/{photo_id}", timeout=10).json()
        assert (detail["label"], detail["label_source"]) == ("blue", "correction")
        assert [c["label"] for c in detail["corrections"]] == ["blue"]
    others = [t for t in tiles(page) if t["id"] not in ids]
    assert all(t["source"] == "prediction" for t in others)


def requests_ids(page) -> list[int]:
    body = requests.get(f"{page.base}/api/v1/photos?limit=200", timeout=10).json()
    return [i["id"] for i in body["items"]]


@pytest.mark.browser
def test_the_grid_is_one_tab_stop_with_arrow_keys_space_and_enter(gallery, tmp_path) -> None:
    page = gallery("/gallery", noise_folder(tmp_path, 10))
    total = len(requests_ids(page))
    wait_for_tiles(page, total)
    assert page.evaluate("() => document.querySelectorAll('#photos [tabindex=\"0\"]').length") == 1
    # from the top of the page, the first photo is a few Tab presses away (was 44)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    presses = 0
    while presses < 30:
        page.keyboard.press("Tab")
        presses += 1
        if page.evaluate("() => !!document.activeElement.closest('#photos')"):
            break
    assert presses < 20
    order = [t["id"] for t in tiles(page)]
    focused = "() => Number(document.activeElement.closest('.tile').dataset.id)"
    assert page.evaluate(focused) == order[0]
    page.keyboard.press("ArrowRight")
    assert page.evaluate(focused) == order[1]
    columns = page.evaluate(
        """() => { const t = [...document.querySelectorAll('#photos .month:first-child .tile')];
                   return t.filter(x => x.getBoundingClientRect().top === t[0].getBoundingClientRect().top).length; }"""
    )
    if len(order) > columns + 1:
        page.keyboard.press("ArrowDown")
        assert page.evaluate(focused) in order[columns:]
        page.keyboard.press("ArrowUp")
        assert page.evaluate(focused) == order[1]
    page.keyboard.press("Space")
    assert page.text_content("#selection-count") == "1"
    page.keyboard.press("Shift+ArrowRight")
    assert page.text_content("#selection-count") == "2"
    # one Tab leaves the grid
    page.keyboard.press("Tab")
    assert not page.evaluate("() => !!document.activeElement.closest('#photos')")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(focused) == order[2]
    page.keyboard.press("Escape")
    assert page.text_content("#selection-count") == "0"
    # Shift+F10 opens the tile's label menu on its label; Esc closes it and focus comes back
    page.keyboard.press("Shift+F10")
    assert page.is_visible("#label-menu")
    assert page.evaluate("() => document.activeElement.getAttribute('aria-checked')") == "true"
    page.keyboard.press("Escape")
    assert page.is_hidden("#label-menu")
    assert page.evaluate(focused) == order[2]
    # Enter opens the photo in the viewer (static/viewer.js), on this photo
    page.keyboard.press("Enter")
    page.wait_for_selector("dialog.viewer[open]")
    assert f"/photos/{order[2]}/" in page.get_attribute("dialog.viewer[open] .viewer-image", "src")


@pytest.mark.browser
def test_a_corrected_photo_leaves_a_filtered_view_and_undo_brings_it_back(
    gallery, photo_library: Library
) -> None:
    page = gallery("/gallery?label=red")
    page.wait_for_function("() => document.querySelectorAll('#photos .tile').length > 1")
    before = tiles(page)
    assert {t["label"] for t in before} == {"red"}
    first = before[0]["id"]
    page.locator(f'#photos .tile[data-id="{first}"] .tile-menu-button').click()
    page.click('#label-menu .menu-item[data-label="green"]')
    page.wait_for_function(
        'id => !document.querySelector(`#photos .tile[data-id="${id}"]`)', arg=first
    )
    assert len(tiles(page)) == len(before) - 1
    assert page.is_visible("#toast") and "no longer" in page.text_content("#toast-text")
    detail = requests.get(f"{page.base}/api/v1/photos/{first}", timeout=10).json()
    assert detail["label"] == "green"
    page.click("#toast-undo")
    page.wait_for_function(
        'id => !!document.querySelector(`#photos .tile[data-id="${id}"]`)', arg=first
    )
    assert [t["id"] for t in tiles(page)] == [t["id"] for t in before]
    detail = requests.get(f"{page.base}/api/v1/photos/{first}", timeout=10).json()
    assert (detail["label"], detail["label_source"]) == ("red", "prediction")
