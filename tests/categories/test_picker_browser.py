"""The example picker on /categories in headless Chromium, driven by the keyboard only.

Skipped (with the reason) where Chromium is not installed, except under CI=true. Checks
that a person who does not use a mouse can find photos (search), pick examples, and
teach a category; that the picker's alt texts describe photos rather than server paths;
and that the new category's size is said in words.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from smartalbum.web.server import make_server

from .test_web import web  # noqa: F401  (the fixture: an app over 45 indexed photos)

pytestmark = pytest.mark.browser


@pytest.fixture
def served(web) -> Iterator[str]:  # noqa: F811
    app, _client, _shas, settings, _factory = web
    server = make_server(app, settings, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    server.task_dispatcher.shutdown()
    thread.join(timeout=5)


def _tab_to(page, selector: str, limit: int = 40) -> None:
    """Press Tab until the focused element matches ``selector``."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_pick_examples_and_teach_with_the_keyboard(browser, served):
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{served}/categories")
    page.wait_for_function("() => document.querySelectorAll('#picker button.pick').length > 0")

    # alt texts and accessible names say what a photo is, never where the server keeps it
    alts = page.eval_on_selector_all("#picker img", "els => els.map(e => e.alt)")
    assert alts and all(a and "/" not in a and ".jpg" not in a for a in alts), alts[:3]
    names = page.eval_on_selector_all(
        "#picker button.pick", "els => els.map(e => e.getAttribute('aria-label'))"
    )
    assert all(n.endswith(": not picked") for n in names)

    # search by word with the keyboard: the status says what came back
    page.focus("#cat-name")
    _tab_to(page, "#picker-q")
    page.keyboard.type("red")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('picker-status').textContent !== ''")
    page.wait_for_function(
        "() => !document.getElementById('picker-status').textContent.startsWith('Searching')"
    )
    # back to the whole library: an empty search
    page.fill("#picker-q", "")
    page.focus("#picker-q")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#picker button.pick').length > 0")

    # Tab into the grid, Enter picks an example, arrows move, Space picks, Enter again
    # turns the first into a counter-example
    _tab_to(page, "#picker button.pick")
    page.keyboard.press("Enter")
    first = page.evaluate("() => document.activeElement.getAttribute('aria-label')")
    assert first.endswith(": example")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
        page.keyboard.press("Space")
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("() => document.activeElement.getAttribute('aria-pressed')") == "true"
    assert page.text_content("#picked-count") == "4"
    page.keyboard.press("Enter")  # the 3rd photo: example -> counter-example
    assert page.text_content("#picked-count") == "3"
    assert page.text_content("#counter-count") == "1"

    # name it and submit from the keyboard
    page.focus("#cat-name")
    page.keyboard.type("picked")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('create-status').textContent.includes('picked')"
    )
    status = page.text_content("#create-status")
    assert "photos" in status and "% of your library" in status, status
    page.wait_for_function("() => document.querySelectorAll('#cat-list li').length === 1")
    assert "% of your library" in page.text_content("#cat-list")
    assert errors == []
    context.close()
