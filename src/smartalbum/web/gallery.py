"""The gallery pages: browse by category, date and place; review; duplicates; trips; one photo.

Like the classification page, each page is a static shell (one template, the shared
stylesheet and one script, no inline code); everything it shows comes from the library
API, so the pages work offline and behind the same API key as any other client.
"""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("gallery", __name__)


@bp.get("/gallery")
def browse() -> str:
    return render_template("gallery/browse.html")


@bp.get("/gallery/review")
def review() -> str:
    return render_template("gallery/review.html")


@bp.get("/gallery/duplicates")
def duplicates() -> str:
    return render_template("gallery/duplicates.html")


@bp.get("/gallery/trips")
def trips() -> str:
    return render_template("gallery/trips.html")


@bp.get("/gallery/photos/<int:photo_id>")
def photo(photo_id: int) -> str:
    return render_template("gallery/photo.html", photo_id=photo_id)
