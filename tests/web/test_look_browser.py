"""One look and two languages, in Chromium: every page has the same header (logo, skip link
that lands in the page, the sections' nav, search, language switch), and a Chinese browser
gets a Chinese interface whose switch to English is remembered from page to page.

The pages are found in the app's url_map (every GET route without arguments that answers
HTML), so a page added later is checked without touching this test.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from pages import html_pages

pytestmark = pytest.mark.browser

SECTIONS = 8  # classify, gallery, review, duplicates, trips, people, categories, jobs


def test_every_page_has_the_same_header(
    browser, make_app: Callable[..., Flask], start_server: Callable[..., str]
) -> None:
    paths = sorted(html_pages(make_app()))
    assert {"/", "/gallery", "/people", "/categories", "/jobs"} <= set(paths)
    base = start_server()
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = context.new_page()
    try:
        for path in paths:
            page.goto(base + path, wait_until="domcontentloaded")
            page.wait_for_load_state("load")
            assert page.locator("header.topbar").count() == 1, path
            assert page.locator("header.topbar .logo").is_visible(), path
            assert page.locator("header.topbar h1").inner_text() == "Smart Album", path
            assert page.locator(".topnav a").count() == SECTIONS, path
            assert page.locator("#search-q").is_visible(), path
            assert page.locator(".language a").inner_text() == "简体中文", path
            # The skip link is the first stop of the keyboard and lands in the page itself.
            page.keyboard.press("Tab")
            skip = page.locator(".skip-link")
            assert skip.evaluate("el => el === document.activeElement"), path
            assert skip.is_visible(), path  # shown once focused
            page.keyboard.press("Enter")
            landed = page.evaluate(
                "() => { const t = document.querySelector(document.querySelector("
                "'.skip-link').getAttribute('href')); return !!t && !t.closest('header'); }"
            )
            assert landed, path
    finally:
        context.close()


def test_chinese_browser_and_the_remembered_switch(
    browser, start_server: Callable[..., str]
) -> None:
    base = start_server()
    context = browser.new_context(locale="zh-CN")  # Accept-Language: zh-CN
    page = context.new_page()
    try:
        page.goto(base + "/categories", wait_until="load")
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        nav = page.locator(".topnav").inner_text()
        assert "图库" in nav and "人物" in nav and "Gallery" not in nav
        assert page.locator("#list-title").inner_text() == "你的类别"
        assert page.locator("#create-title").inner_text() == "教一个新类别"
        assert page.locator("#search-q").get_attribute("placeholder").startswith("搜索")
        # A script's text (the header's model line, layout.js) comes from the js catalog.
        page.wait_for_function(
            "() => /个类别$/.test(document.getElementById('model-info').textContent)"
        )

        page.locator(".language a").click()  # "English"
        page.wait_for_url(base + "/categories")
        assert page.locator("#list-title").inner_text() == "Your categories"
        page.goto(base + "/gallery", wait_until="load")  # still a Chinese browser
        assert page.evaluate("document.documentElement.lang") == "en"
        assert "Gallery" in page.locator(".topnav").inner_text()
        assert page.locator(".language a").inner_text() == "简体中文"
    finally:
        context.close()


def test_phone_header_leaves_the_screen_to_the_page(
    browser, start_server: Callable[..., str]
) -> None:
    """On a 390×844 phone the header is two rows (name, search button, language; the
    sections); the search field opens when its button is pressed, and searches."""
    base = start_server()
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US",
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(base + "/categories", wait_until="load")
        header = page.locator("header.topbar").bounding_box()
        assert header and header["height"] <= 110
        assert page.locator(".topnav [aria-current='page']").is_visible()  # scrolled into view
        field = page.locator("#search-q")
        assert field.bounding_box()["width"] < 5  # closed
        page.locator(".search-box button").click()
        assert field.evaluate("el => el === document.activeElement")
        assert field.bounding_box()["width"] > 200  # open below
        assert page.url.endswith("/categories")  # an empty search went nowhere
        field.fill("beach")
        field.press("Enter")
        page.wait_for_url("**/search?q=beach")
        assert page.locator("#search-q").bounding_box()["width"] > 200  # stays open with its words
    finally:
        context.close()
