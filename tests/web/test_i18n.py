"""The web app in English and Simplified Chinese (web/i18n.py).

The language comes from the switch's cookie, else the browser's Accept-Language; the page
scripts get their translations as a JSON block; the committed .mo files match their .po.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask

from smartalbum.web.i18n import TRANSLATIONS, js_messages


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


def _nav(html: str) -> str:
    match = re.search(r'<nav class="topnav".*?</nav>', html, re.S)
    assert match, html[:500]
    return match.group(0)


def test_english_by_default(app: Flask) -> None:
    html = app.test_client().get("/").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert ">Gallery<" in _nav(html)
    assert "简体中文" in html  # the switch offers the other language


def test_chinese_browser_gets_chinese_pages(app: Flask) -> None:
    html = (
        app.test_client()
        .get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
        .get_data(as_text=True)
    )
    assert '<html lang="zh-CN">' in html
    nav = _nav(html)
    assert ">图库<" in nav and ">Gallery<" not in nav


def test_switch_is_remembered_and_goes_back(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/lang/zh?next=/gallery")
    assert response.status_code == 302
    assert response.headers["Location"] == "/gallery"
    # The cookie now wins over an English browser.
    html = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert ">图库<" in _nav(html)
    client.get("/lang/en")
    assert ">Gallery<" in _nav(client.get("/").get_data(as_text=True))


@pytest.mark.parametrize("target", ["https://attacker.example/", "//attacker.example/x"])
def test_switch_never_redirects_off_site(app: Flask, target: str) -> None:
    response = app.test_client().get("/lang/zh", query_string={"next": target})
    location = response.headers["Location"]
    assert "attacker" not in location and location.startswith("/")


def test_unknown_language_changes_nothing(app: Flask) -> None:
    response = app.test_client().get("/lang/xx?next=/")
    assert response.status_code == 302
    assert "lang=" not in response.headers.get("Set-Cookie", "")


def test_page_scripts_get_their_catalog(app: Flask) -> None:
    html = (
        app.test_client()
        .get("/", headers={"Accept-Language": "zh"})
        .get_data(as_text=True)
    )
    block = re.search(r'<script type="application/json" id="i18n-messages">(.*?)</script>', html)
    assert block
    assert json.loads(block.group(1)) == js_messages("zh")
    assert js_messages("en") == {}


@pytest.mark.parametrize("domain", ["messages", "js"])
def test_compiled_catalogs_match_their_sources(domain: str) -> None:
    """A .po edited without `make i18n` leaves a stale .mo: the pages would not show it."""
    folder: Path = TRANSLATIONS / "zh" / "LC_MESSAGES"
    with (folder / f"{domain}.po").open("rb") as fh:
        source = {m.id: m.string for m in read_po(fh) if m.id and m.string and not m.fuzzy}
    with (folder / f"{domain}.mo").open("rb") as fh:
        compiled = {m.id: m.string for m in read_mo(fh) if m.id}
    assert compiled == source


@pytest.mark.parametrize("domain", ["messages", "js"])
def test_every_string_has_its_chinese(domain: str) -> None:
    """A string wrapped for translation but left without Chinese shows up in English on a
    Chinese page: scripts/i18n_merge_pending.py (make i18n) fills them from i18n/pending."""
    with (TRANSLATIONS / "zh" / "LC_MESSAGES" / f"{domain}.po").open("rb") as fh:
        missing = [m.id for m in read_po(fh) if m.id and (not m.string or m.fuzzy)]
    assert missing == []


def test_problem_titles_follow_the_language(app: Flask) -> None:
    """A Chinese browser reads a problem's title in Chinese; the code programs match on, and
    an English request, are unchanged."""
    client = app.test_client()
    english = client.get("/api/v1/photos/999999999")
    chinese = client.get("/api/v1/photos/999999999", headers={"Accept-Language": "zh-CN"})
    assert english.status_code == chinese.status_code == 404
    assert english.json["title"] == "Not Found"
    assert "Content-Language" not in english.headers
    assert chinese.json["title"] == "未找到"
    assert chinese.json["code"] == english.json.get("code")
    assert chinese.headers["Content-Language"] == "zh-CN"


def _merge_script() -> object:
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "scripts" / "i18n_merge_pending.py"
    spec = importlib.util.spec_from_file_location("i18n_merge_pending", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pending_translations_are_merged_and_compiled(tmp_path: Path) -> None:
    """The integrator's step: pending JSON fills what is untranslated (never what is already
    translated), a translation that loses a placeholder is refused, the .mo is compiled, and
    --strict fails while something is left."""
    import shutil

    script = _merge_script()
    translations = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, translations)
    js_po = translations / "zh" / "LC_MESSAGES" / "js.po"
    with js_po.open("rb") as fh:
        catalog = read_po(fh)
    for msgid in ("Searching…", "Photo {id}", "No tags yet."):
        catalog[msgid].string = ""
    from babel.messages.pofile import write_po

    with js_po.open("wb") as fh:
        write_po(fh, catalog)
    pending = tmp_path / "pending"
    pending.mkdir()
    (pending / "a.json").write_text(json.dumps({
        "js": {"Searching…": "搜索中…", "Photo {id}": "照片", "Nothing to retrain.": "改了"},
    }), encoding="utf-8")
    args = ["--no-extract", "--pending", str(pending), "--translations", str(translations)]

    assert script.main([*args, "--strict"]) == 1  # "Photo {id}" refused, "No tags yet." left
    with (translations / "zh" / "LC_MESSAGES" / "js.mo").open("rb") as fh:
        compiled = {m.id: m.string for m in read_mo(fh) if m.id}
    assert compiled["Searching…"] == "搜索中…"
    assert "Photo {id}" not in compiled and "No tags yet." not in compiled
    assert compiled["Nothing to retrain."] == js_messages("zh")["Nothing to retrain."]
    assert script.main(args) == 0  # without --strict, only a report
