"""The search box, the results page and tag editing in headless Chromium (real app, waitress).

Uses the web tests' server and browser fixtures (skipped without Chromium, except CI=true).
"""

from __future__ import annotations

import pytest

from smartalbum.library import db
from tags.conftest import fill_catalog
from web.conftest import make_settings, start_server  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def site(start_server, make_settings, tagger, tmp_path):  # noqa: F811
    """(base URL, name -> photo id) of a live app over a tagged catalog."""
    url = start_server(rate_limit="")
    _, factory = db.open_catalog(url=make_settings().database_url)
    (tmp_path / "photos").mkdir()
    return url, fill_catalog(factory, tagger, tmp_path / "photos")


@pytest.fixture
def page(browser):  # noqa: F811
    context = browser.new_context()
    pg = context.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda exc: problems.append(str(exc)))
    pg.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    yield pg
    context.close()
    assert problems == []


def test_search_box_leads_to_ranked_results(site, page):
    url, ids = site
    page.goto(f"{url}/gallery")
    page.fill("#search-q", "Florence 2023")
    page.press("#search-q", "Enter")
    page.wait_for_selector("#search-results .search-result")
    assert page.url.endswith("/search?q=Florence+2023")
    results = page.locator("#search-results .search-result")
    assert results.count() == 1
    assert 'place "Florence"' in results.first.inner_text()
    assert results.first.locator("a.open").get_attribute("href") == (
        f"/gallery/photos/{ids['pizza.jpg']}"
    )
    assert page.input_value("#search-q") == "Florence 2023"
    assert "1 photo for" in page.inner_text("#search-summary")


def test_tags_are_shown_and_editable_on_the_photo_page(site, page):
    url, ids = site
    page.goto(f"{url}/gallery/photos/{ids['cat.jpg']}")
    page.wait_for_selector("#photo-tags .tag-chip")
    assert page.locator("#photo-tags .tag-chip").first.inner_text().startswith("cat")
    page.fill("#tag-input", "Mimi")
    page.press("#tag-input", "Enter")
    page.wait_for_selector("#photo-tags .tag-chip.user")
    assert page.locator("#photo-tags .tag-chip.user").inner_text().startswith("mimi")
    page.click("button[aria-label='Remove tag cat']")
    page.wait_for_function(
        "() => ![...document.querySelectorAll('#photo-tags .tag-chip span')]"
        ".some((s) => s.textContent === 'cat')"
    )
    page.goto(f"{url}/search?q=mimi")
    page.wait_for_selector("#search-results .search-result")
    assert page.locator("#search-results .search-result").count() == 1
