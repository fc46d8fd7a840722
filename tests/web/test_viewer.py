"""The photo viewer (static/viewer.js) in headless Chromium against the real app on waitress:
opened from a grid (the search page's results, and any element marked data-viewer-photo),
←/→ walk the grid, +/− zoom, Esc closes and gives the focus back to the tile, face boxes lie
on the face at two window sizes and when zoomed, and the download is the original's bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from gallery_catalog import index_into
from PIL import Image

from smartalbum.library import db
from smartalbum.library.schema import File
from smartalbum.library.schema_faces import Face

pytestmark = pytest.mark.browser

CAMERA = "Viewercam"
#: The face of each photo, relative to the upright photo (as the faces table keeps them).
FACES = {
    "wide.jpg": (0.55, 0.2, 0.2, 0.3),
    "tall.jpg": (0.1, 0.6, 0.35, 0.2),
}


def write_photo(path: Path, size: tuple[int, int], seed: int, orientation: int = 1) -> None:
    rng = np.random.default_rng(seed)
    w, h = size
    pixels = np.zeros((h, w, 3), np.uint8)
    pixels[:] = (40, 90, 200)
    pixels += rng.integers(0, 30, size=pixels.shape, dtype=np.uint8)
    exif = Image.Exif()
    exif[0x010F] = CAMERA  # Make
    exif[0x0110] = f"{CAMERA} One"  # Model
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, format="JPEG", quality=90, exif=exif)


@pytest.fixture
def viewer_catalog(tiny_bundle_dir, tmp_path) -> tuple[str, Path, dict[str, int]]:
    """A catalog of three indexed photos (one stored sideways), two with a face: its URL,
    the photos' folder and their ids by file name."""
    root = tmp_path / "photos"
    root.mkdir()
    write_photo(root / "wide.jpg", (800, 500), 1)
    write_photo(root / "tall.jpg", (600, 450), 2, orientation=6)  # upright: 450 x 600
    write_photo(root / "square.jpg", (400, 400), 3)
    url = f"sqlite:///{tmp_path / 'viewer.sqlite3'}"
    assert index_into(url, tiny_bundle_dir, root).new == 3
    _, factory = db.open_catalog(url=url)
    with factory() as s:
        ids = {Path(p).name: i for p, i in s.query(File.path, File.photo_id)}
        for name, (x, y, w, h) in FACES.items():
            s.add(
                Face(
                    photo_id=ids[name],
                    x=x,
                    y=y,
                    w=w,
                    h=h,
                    landmarks=[[x, y]] * 5,
                    score=1.0,
                    embedding=np.zeros(128, np.float32).tobytes(),
                )
            )
        s.commit()
    return url, root, ids


@pytest.fixture
def viewer_site(start_server, viewer_catalog) -> tuple[str, Path, dict[str, int]]:
    """A live server over :func:`viewer_catalog`: its base URL, the folder, the ids."""
    url, root, ids = viewer_catalog
    return start_server(database_url=url), root, ids


@pytest.fixture
def open_page(open_page) -> Callable[..., object]:
    """The shared ``open_page`` (tests/web/conftest.py), ignoring the 501 a photo without a
    heat-map answers (the viewer shows that state on purpose)."""
    return lambda url, width=1366, height=768: open_page(
        url, width, height, ignore=("status of 501",)
    )


def viewer_state(page) -> dict:
    """What the viewer shows (for a failure's message)."""
    return page.evaluate(
        """() => {
             const img = document.querySelector('.viewer-image');
             return {current: window.smartalbumViewer.current(),
                     open: !!document.querySelector('dialog.viewer[open]'),
                     src: img && img.getAttribute('src'), complete: img && img.complete,
                     natural: img && img.naturalWidth,
                     loading: !!document.querySelector('.viewer-stage.loading'),
                     status: (document.querySelector('.viewer-status') || {}).textContent};
           }"""
    )


def wait_for_photo(page, photo_id: int) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        _wait_for_photo(page, photo_id)
    except PlaywrightTimeout:
        pytest.fail(f"photo {photo_id} not shown: {viewer_state(page)}")


def _wait_for_photo(page, photo_id: int) -> None:
    page.wait_for_function(
        """id => {
             const img = document.querySelector('dialog.viewer[open] .viewer-image');
             return window.smartalbumViewer.current() === id && img && img.complete
               && img.naturalWidth > 0 && img.getBoundingClientRect().width > 0
               && !document.querySelector('.viewer-stage.loading');
           }""",
        arg=photo_id,
        timeout=60_000,
    )


def focus_returns_to(page, photo_id: int) -> None:
    """The viewer closed and the focus is on the tile of ``photo_id`` (the close event that
    moves it there comes as a task after the dialog closed)."""
    page.wait_for_function("() => !document.querySelector('dialog.viewer[open]')")
    page.wait_for_function(
        "id => document.activeElement && document.activeElement.dataset.viewerPhoto === id",
        arg=str(photo_id),
        timeout=5_000,
    )


def rects(page) -> dict:
    return page.evaluate(
        """() => {
             const box = (n) => { const r = n.getBoundingClientRect();
               return {x: r.x, y: r.y, w: r.width, h: r.height}; };
             const img = document.querySelector('.viewer-image');
             const face = document.querySelector('.viewer-face rect');
             return {image: box(img), face: face ? box(face) : null,
                     natural: [img.naturalWidth, img.naturalHeight]};
           }"""
    )


FACE_IN_PLACE = """rel => {
  const img = document.querySelector('.viewer-image').getBoundingClientRect();
  const face = document.querySelector('.viewer-face rect');
  if (!face) return false;
  const r = face.getBoundingClientRect();
  const want = [img.x + rel[0] * img.width, img.y + rel[1] * img.height,
                rel[2] * img.width, rel[3] * img.height];
  return [r.x, r.y, r.width, r.height].every((v, i) => Math.abs(v - want[i]) <= 3);
}"""


def assert_face_on_its_place(page, relative: tuple[float, float, float, float]) -> None:
    """The face box's rectangle on screen is the face's place in the picture on screen
    (waiting up to 5 s for a layout after a resize, then saying what differs)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):  # the assertions below say what is wrong
        page.wait_for_function(FACE_IN_PLACE, arg=list(relative), timeout=5_000)
    got = rects(page)
    image, face = got["image"], got["face"]
    x, y, w, h = relative
    expected = {
        "x": image["x"] + x * image["w"],
        "y": image["y"] + y * image["h"],
        "w": w * image["w"],
        "h": h * image["h"],
    }
    for k, value in expected.items():
        # within 3 px (a 2 px stroke that does not scale lies half outside the box)
        assert face[k] == pytest.approx(value, abs=3), (k, face, expected)


def test_viewer_from_the_search_grid(viewer_site, open_page) -> None:
    base, root, ids = viewer_site
    page = open_page(f"{base}/search?q={CAMERA.lower()}")
    page.wait_for_function(
        "() => document.querySelectorAll('#search-results [data-viewer-photo]').length === 3",
        timeout=20_000,
    )
    order = [
        int(v)
        for v in page.eval_on_selector_all(
            "#search-results [data-viewer-photo]", "ns => ns.map(n => n.dataset.viewerPhoto)"
        )
    ]
    assert sorted(order) == sorted(ids.values())

    # open from the grid: a click on the second tile
    page.click(f'#search-results [data-viewer-photo="{order[1]}"]')
    wait_for_photo(page, order[1])
    assert page.url.startswith(f"{base}/search")  # the viewer, not the photo's page
    assert page.is_visible("dialog.viewer[open]")
    assert "2 of 3" in page.text_content(".viewer-counter")

    # → and ← walk the grid in DOM order
    page.keyboard.press("ArrowRight")
    wait_for_photo(page, order[2])
    page.keyboard.press("ArrowRight")  # the last: stays
    wait_for_photo(page, order[2])
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    wait_for_photo(page, order[0])

    # + and − zoom (the picture grows about the centre, then fits again)
    fit = rects(page)["image"]
    page.keyboard.press("+")
    zoomed = rects(page)["image"]
    assert zoomed["w"] == pytest.approx(fit["w"] * 1.5, rel=0.01)
    page.keyboard.press("-")
    assert rects(page)["image"]["w"] == pytest.approx(fit["w"], rel=0.01)

    # Esc closes and gives the focus back to the tile of the photo shown
    page.keyboard.press("Escape")
    focus_returns_to(page, order[0])

    # Enter on the focused tile opens it again
    page.keyboard.press("Enter")
    wait_for_photo(page, order[0])


def test_face_boxes_stay_on_the_face_at_every_size_and_zoom(viewer_site, open_page) -> None:
    base, root, ids = viewer_site
    page = open_page(f"{base}/search?q={CAMERA.lower()}", 1366, 768)
    page.wait_for_function("() => window.smartalbumViewer !== undefined")
    for name in ("wide.jpg", "tall.jpg"):
        page.evaluate("id => window.smartalbumViewer.open([id], 0)", ids[name])
        wait_for_photo(page, ids[name])
        page.wait_for_selector(".viewer-face rect", state="attached")
        if name == "tall.jpg":  # shown upright (EXIF orientation 6): portrait
            assert rects(page)["natural"] == [450, 600]
        assert_face_on_its_place(page, FACES[name])

        page.set_viewport_size({"width": 390, "height": 844})
        assert_face_on_its_place(page, FACES[name])

        page.keyboard.press("+")
        page.keyboard.press("+")
        assert_face_on_its_place(page, FACES[name])
        # the heat-map's toggle (no heat-map in the tiny bundle) moves nothing
        page.keyboard.press("h")
        page.wait_for_function(
            "() => /heat-map/i.test(document.querySelector('.viewer-status').textContent)"
        )
        assert_face_on_its_place(page, FACES[name])
        page.keyboard.press("h")
        page.keyboard.press("0")
        page.set_viewport_size({"width": 1366, "height": 768})
        assert_face_on_its_place(page, FACES[name])
        page.keyboard.press("Escape")


def test_download_is_the_original_and_a_key_corrects_the_label(viewer_site, open_page) -> None:
    base, root, ids = viewer_site
    page = open_page(f"{base}/search?q={CAMERA.lower()}")
    page.wait_for_function("() => window.smartalbumViewer !== undefined")
    page.evaluate("id => window.smartalbumViewer.open([id], 0)", ids["tall.jpg"])
    wait_for_photo(page, ids["tall.jpg"])
    with page.expect_download() as info:
        page.click(".viewer-download")
    download = info.value
    assert download.suggested_filename == "tall.jpg"
    data = Path(download.path()).read_bytes()
    original = (root / "tall.jpg").read_bytes()
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(original).hexdigest()

    # the label with its confidence, and key 2 sets the head's second label
    page.wait_for_selector(".viewer-fix-button")
    labels = page.eval_on_selector_all(".viewer-fix-button", "ns => ns.map(n => n.dataset.label)")
    assert page.text_content(".viewer-label-name") in labels
    assert "%" in page.text_content(".viewer-label-note")
    page.keyboard.press("2")
    page.wait_for_function(
        "l => document.querySelector('.viewer-label-name').textContent === l", arg=labels[1]
    )
    detail = page.evaluate(
        "id => fetch(`/api/v1/photos/${id}`).then(r => r.json())", ids["tall.jpg"]
    )
    assert detail["label"] == labels[1] and detail["label_source"] == "correction"


def test_any_marked_element_of_any_grid_opens_the_viewer(viewer_site, open_page) -> None:
    """The viewer knows no grid: a container and its items marked with data attributes."""
    base, root, ids = viewer_site
    page = open_page(f"{base}/categories")
    page.wait_for_function("() => window.smartalbumViewer !== undefined")
    page.evaluate(
        """ids => {
             const grid = document.createElement('div');
             grid.dataset.viewerGrid = '';
             for (const id of ids) {
               const item = document.createElement('div');
               item.tabIndex = 0;
               item.dataset.viewerPhoto = String(id);
               item.textContent = 'photo ' + id;
               const own = document.createElement('button');
               own.textContent = 'own action';
               item.append(own);
               grid.append(item);
             }
             document.body.append(grid);
           }""",
        [ids["square.jpg"], ids["wide.jpg"]],
    )
    # the tile's own button does not open the viewer
    page.click(f'[data-viewer-photo="{ids["square.jpg"]}"] button')
    assert not page.is_visible("dialog.viewer[open]")
    page.focus(f'[data-viewer-photo="{ids["wide.jpg"]}"]')
    page.keyboard.press("Enter")
    wait_for_photo(page, ids["wide.jpg"])
    page.keyboard.press("ArrowLeft")
    wait_for_photo(page, ids["square.jpg"])
    page.click(".viewer-close")
    focus_returns_to(page, ids["square.jpg"])


def test_the_photo_pages_heat_map_lies_over_the_photo_under_its_face_boxes(
    viewer_site, open_page
) -> None:
    """The gallery's photo page: showing the heat-map hid the photo and put the map below the
    toggle, so the face boxes (placed over the photo) landed above the face."""
    base, root, ids = viewer_site
    photo_id = ids["wide.jpg"]
    page = open_page(f"{base}/gallery/photos/{photo_id}")
    png = Image.new("RGB", (512, 320), (255, 0, 0))
    buf = io.BytesIO()
    png.save(buf, format="PNG")
    page.route(
        "**/api/v1/photos/*/explain*",
        lambda route: route.fulfill(status=200, content_type="image/png", body=buf.getvalue()),
    )
    page.wait_for_selector(".face-box")
    page.wait_for_function("() => document.getElementById('photo-image').naturalWidth > 0")
    box = "el => { const r = el.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }"
    photo = page.eval_on_selector("#photo-image", box)
    face = page.eval_on_selector(".face-box", box)
    page.click(".heatmap-toggle")
    page.wait_for_selector(".heatmap", state="visible")
    page.wait_for_function("() => document.querySelector('.heatmap').naturalWidth > 0")
    assert page.eval_on_selector(".heatmap", box) == pytest.approx(photo, abs=1)
    assert page.eval_on_selector(".face-box", box) == pytest.approx(face, abs=1)
    x, y, w, h = FACES["wide.jpg"]
    assert face == pytest.approx(
        [photo[0] + x * photo[2], photo[1] + y * photo[3], w * photo[2], h * photo[3]], abs=3
    )


def test_heat_map_covers_the_region_the_network_saw_at_every_zoom(viewer_site, open_page) -> None:
    """The map (answered here by a stub: the tiny bundle has no features model) lies on the
    region of the photo the explain API names: the centred square of a wide photo."""
    base, root, ids = viewer_site
    page = open_page(f"{base}/search?q={CAMERA.lower()}")
    region = {"x": 0.1875, "y": 0.0, "w": 0.625, "h": 1.0}  # 800 x 500: the middle 500 x 500
    answer = {
        "photo_id": ids["wide.jpg"],
        "head": "colours",
        "label": "blue",
        "probability": 0.9,
        "map": [[0.0, 0.5], [1.0, 0.25]],
        "region": region,
    }
    page.route(
        "**/api/v1/photos/*/explain*",
        lambda route: route.fulfill(status=200, json=answer),
    )
    page.wait_for_function("() => window.smartalbumViewer !== undefined")
    page.evaluate("id => window.smartalbumViewer.open([id], 0)", ids["wide.jpg"])
    wait_for_photo(page, ids["wide.jpg"])
    page.keyboard.press("h")
    page.wait_for_selector(".viewer-heat", state="visible")
    for zoom_key in (None, "+"):
        if zoom_key:
            page.keyboard.press(zoom_key)
        got = page.evaluate(
            """() => { const r = (s) => document.querySelector(s).getBoundingClientRect();
                      const i = r('.viewer-image'), h = r('.viewer-heat');
                      return [i.x, i.y, i.width, i.height, h.x, h.y, h.width, h.height]; }"""
        )
        ix, iy, iw, ih, hx, hy, hw, hh = got
        assert [hx, hy, hw, hh] == pytest.approx(
            [ix + region["x"] * iw, iy + region["y"] * ih, region["w"] * iw, region["h"] * ih],
            abs=1,
        )


def test_behind_an_api_key_the_picture_and_the_download_are_fetched_with_it(
    start_server, viewer_catalog, browser
) -> None:
    url, root, ids = viewer_catalog
    base = start_server(database_url=url, api_key="s3cret")
    context = browser.new_context(accept_downloads=True)
    context.add_init_script("sessionStorage.setItem('smartalbum-api-key', 's3cret')")
    try:
        page = context.new_page()
        page.goto(f"{base}/gallery")  # (the search page itself needs the key today)
        page.wait_for_function("() => window.smartalbumViewer !== undefined")
        page.evaluate("id => window.smartalbumViewer.open([id], 0)", ids["wide.jpg"])
        wait_for_photo(page, ids["wide.jpg"])
        assert page.get_attribute(".viewer-image", "src").startswith("blob:")
        with page.expect_download() as info:
            page.click(".viewer-download")
        data = Path(info.value.path()).read_bytes()
        assert data == (root / "wide.jpg").read_bytes()
        assert info.value.suggested_filename == "wide.jpg"
    finally:
        context.close()
