"""Languages of the web app: English (the source strings) and Simplified Chinese.

Flask-Babel picks the language of each request: the ``lang`` cookie set by the switch in the
header (``/lang/<code>``), else the browser's ``Accept-Language``, else English. Templates
mark text with ``{{ _("...") }}``; the page scripts with ``t("...")`` (static/i18n.js), whose
translations come from the ``js`` domain of the same catalogs and are handed to the page as a
JSON data block by the layout (the Content-Security-Policy forbids inline scripts).

Dates and numbers follow the same language: in templates Flask-Babel's filters
(``{{ when|dateformat("medium") }}``, ``{{ count|numberformat }}``), in scripts
``smartalbumI18n.date(d, options)`` and ``smartalbumI18n.number(n, options)`` (Intl with the
page's language). Problem documents' titles are translated too (web/problems.py).

Catalogs live in ``web/translations/<lang>/LC_MESSAGES/{messages,js}.po``; the compiled
``.mo`` files are committed beside them. ``make i18n`` (scripts/i18n_merge_pending.py)
extracts, updates, fills the Chinese from ``i18n/pending/*.json`` (what each branch added)
and compiles; tests/web/test_i18n.py fails when a ``.mo`` differs from its ``.po`` or a
msgid has no Chinese.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask import Blueprint, redirect, request
from flask_babel import Babel, get_locale

if TYPE_CHECKING:
    from flask import Flask
    from werkzeug.wrappers import Response

LANGUAGES: dict[str, str] = {"en": "English", "zh": "简体中文"}
"""Language code -> its name in itself (what the switch shows)."""

DEFAULT_LANGUAGE = "en"
COOKIE = "lang"
TRANSLATIONS = Path(__file__).with_name("translations")

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    """The request's language: the remembered choice, else the browser's best match."""
    chosen = request.cookies.get(COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), DEFAULT_LANGUAGE)


def current_language() -> str:
    """The language code of this request (``en`` or ``zh``)."""
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


@cache
def js_messages(language: str) -> dict[str, str]:
    """The page scripts' translations for ``language`` (msgid -> msgstr; empty for English)."""
    path = TRANSLATIONS / language / "LC_MESSAGES" / "js.po"
    if not path.is_file():
        return {}
    from babel.messages.pofile import read_po

    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    return {
        str(message.id): str(message.string)
        for message in catalog
        if message.id and message.string and not message.fuzzy and isinstance(message.id, str)
    }


@bp.get("/lang/<code>")
def switch(code: str) -> Response:
    """Remember ``code`` as the language (a year-long cookie) and go back to the page."""
    back = request.args.get("next") or request.referrer or "/"
    parts = urlsplit(back)
    # Only a path on this site: never an open redirect.
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    response = redirect(target)
    if code in LANGUAGES:
        response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax")
    return response


def install_i18n(app: Flask) -> None:
    """Flask-Babel with our catalogs, the switch route and the templates' helpers."""
    Babel(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(TRANSLATIONS),
    )
    app.register_blueprint(bp)

    @app.context_processor
    def _i18n_context() -> dict[str, object]:
        language = current_language()
        return {
            "languages": LANGUAGES,
            "current_language": language,
            "html_lang": "zh-CN" if language == "zh" else language,
            "js_messages": js_messages(language),
        }
