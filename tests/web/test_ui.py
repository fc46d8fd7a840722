"""The page's files: served, self-contained (no CDN, no inline script), never using innerHTML."""

from __future__ import annotations

import re
from pathlib import Path

import smartalbum.web

WEB = Path(smartalbum.web.__file__).parent
PAGE_FILES = [
    WEB / "templates" / "index.html",
    WEB / "static" / "app.js",
    WEB / "static" / "app.css",
]


def test_page_is_served_with_its_assets(client) -> None:
    resp = client.get("/")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert {"/static/app.js", "/static/app.css"} <= set(assets)
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200, url
        asset.close()
    assert client.get("/static/app.js").mimetype in ("text/javascript", "application/javascript")
    assert client.get("/static/app.css").mimetype == "text/css"


def test_page_has_the_inputs_it_promises(client) -> None:
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'<input id="file-input"[^>]*type="file"[^>]*multiple', html)
    assert re.search(r'<input id="folder-input"[^>]*webkitdirectory', html)
    assert 'for="file-input"' in html and 'for="folder-input"' in html
    assert 'aria-live="polite"' in html


def test_no_inline_script_or_style_and_nothing_from_elsewhere() -> None:
    html = PAGE_FILES[0].read_text()
    for tag in re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.S):
        assert tag.strip() == "", "inline script"
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    for path in PAGE_FILES:
        text = path.read_text()
        assert not re.search(r"https?://|//cdn|@import", text), path.name


def test_script_never_inserts_html() -> None:
    js = (WEB / "static" / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in js, sink
