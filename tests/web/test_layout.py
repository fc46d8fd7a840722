"""One layout for every page (templates/_layout.html): the same header — skip link, logo,
name, sections, search, language switch — on each HTML page the app serves, found in its
url_map so that a page added later is checked too. (tests/web/test_look_browser.py checks
the same in Chromium, with the skip link's landing.)"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from pages import html_pages

SECTIONS = ("Classify", "Gallery", "Review", "Duplicates", "Trips", "People", "Categories", "Jobs")


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


def test_every_page_has_the_one_header(app: Flask) -> None:
    pages = html_pages(app)
    assert {"/", "/gallery", "/people", "/categories", "/jobs"} <= set(pages)
    for path, html in pages.items():
        header = re.search(r'<header class="topbar">.*?</header>', html, re.S)
        assert header, path
        head = header.group(0)
        assert html.count('<header class="topbar">') == 1, path
        assert 'class="logo"' in head, path  # _page.html used to drop it
        assert "<h1>Smart Album</h1>" in head, path
        assert 'id="model-info"' in head, path
        assert re.findall(r'<nav class="topnav".*?</nav>', head, re.S), path
        nav = re.search(r'<nav class="topnav".*?</nav>', head, re.S).group(0)
        assert [t for t in SECTIONS if f">{t}<" in nav] == list(SECTIONS), path
        assert 'id="search-q"' in head and 'class="language"' in head, path
        skip = re.search(r'<a class="skip-link" href="#([\w-]+)"', html)
        assert skip and html.index(skip.group(0)) < html.index(head), path
        assert 'app.css' in html, path


def test_the_stylesheet_documents_its_components() -> None:
    """The other pages align on app.css's classes: the list at its top must name them."""
    from pathlib import Path

    from smartalbum.web import __file__ as web

    css = (Path(web).parent / "static" / "app.css").read_text(encoding="utf-8")
    top = css[: css.index("*/")]
    for name in (".button.primary", ".button.danger", ".card", "dialog", ".toast", ".menu",
                 ".badge", ".alert", ".field", ".check"):
        assert name in top, name
        selector = name.split(" ")[0]
        assert re.search(re.escape(selector) + r"[\s,{:.\[]", css[len(top):]), name
