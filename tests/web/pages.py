"""The app's HTML pages, found in Flask's url_map (not listed by hand), for the layout tests."""

from __future__ import annotations

from flask import Flask


def html_pages(app: Flask) -> dict[str, str]:
    """Every GET page without URL arguments that answers 200 text/html: path -> its HTML."""
    client = app.test_client()
    pages = {}
    for rule in app.url_map.iter_rules():
        if rule.arguments or "GET" not in (rule.methods or ()):
            continue
        if rule.rule.startswith(("/api/", "/static", "/lang/")):
            continue
        response = client.get(rule.rule)
        if response.status_code == 200 and response.mimetype == "text/html":
            pages[rule.rule] = response.get_data(as_text=True)
    return pages
