"""The drag-and-drop classification page: one template, one script, one stylesheet.

The page is static; everything it shows comes from the JSON API, so it works offline and
behind the same API key and limits as any other client.
"""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("ui", __name__)


@bp.get("/")
def index() -> str:
    return render_template("index.html")
