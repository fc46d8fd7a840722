"""Search and tags over HTTP: ``GET /api/v1/search``, a photo's tags, and the search page.

* ``GET /api/v1/search?q=TEXT&limit=N`` — ranked photos with why each matched (the same
  :class:`smartalbum.tags.search.SearchService` as ``smartalbum search``; the index is
  rebuilt only after the catalog changed, so a query is a few milliseconds).
* ``GET /api/v1/photos/<id>/tags`` — the photo's tags (``auto`` or ``user``) and the ones
  the user removed; ``POST`` ``{"tag": "..."}`` adds one; ``DELETE .../tags/<tag>``
  removes one (remembered: re-tagging never brings it back).
* ``GET /search?q=...`` — the results page (a static shell; ``static/search.js`` asks the
  API, like every gallery page).

Errors are problem documents (400 bad query or tag, 404 unknown photo or tag).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from sqlalchemy.orm import Session

from smartalbum.tags.search import (
    MAX_QUERY_LENGTH,
    SearchQueryError,
    SearchService,
    service_from_settings,
)
from smartalbum.web.contract import api, json_body, query_args, responses
from smartalbum.web.library_api import (
    MAX_PHOTO_ID,
    engine_and_head,
    get_library,
    load_records,
    photo_item,
    photo_not_found,
)
from smartalbum.web.models.common import NoQuery
from smartalbum.web.models.search import PhotoTags, SearchQuery, SearchResults, TagBody
from smartalbum.web.problems import ProblemError

bp = Blueprint("search_api", __name__)

EXTENSION_KEY = "smartalbum.search"
TAG_ERRORS = (400, 404)
_lock = threading.Lock()


def _service() -> SearchService | None:
    lib = get_library()
    if lib.factory is None:
        return None
    with _lock:
        service = current_app.extensions.get(EXTENSION_KEY)
        if service is None:
            from smartalbum.web.state import get_state

            state = get_state()
            service = service_from_settings(lib.factory, state.settings, head=state.default_head)
            current_app.extensions[EXTENSION_KEY] = service
        return service


@bp.get("/api/v1/search")
@api.validate(
    query=SearchQuery,
    resp=responses({200: (SearchResults, "Ranked results")}, [400]),
    operation_id="search",
)
def search() -> Response:
    """Find photos by words: tags, categories, places, people, camera, dates

    Plain words ("beach", "my dog", "Florence 2023", "May 2024", "Anna at the lake"); near
    words match too when the text model is installed ("puppy" finds dogs). Ranked; every
    result says why it matched.
    """
    args: SearchQuery = query_args()
    text, limit = args.q, args.limit
    service = _service()
    empty = {
        "query": text,
        "total": 0,
        "parts": [],
        "unmatched": [],
        "dates": [],
        "semantic": False,
        "message": None,
        "results": [],
    }
    try:
        from smartalbum.tags.search import check_query

        check_query(text)
        if service is None:
            return jsonify({**empty, "message": "the catalog is not available"})
        result = service.search(text, limit=limit)
    except SearchQueryError as exc:
        raise ProblemError.bad_parameter("q", f"q: {exc}.") from None
    out = result.to_dict()
    _, head = engine_and_head()
    assert get_library().factory is not None
    with get_library().factory() as session:
        hits = [h.photo_id for h in result.hits]
        records = {r.id: r for r in load_records(session, hits, head)}
    for item in out["results"]:
        record = records.get(item["photo_id"])
        item["photo"] = photo_item(record) if record is not None else None
    return jsonify(out)


# --------------------------------------------------------------------------- tags


def _tags_body(photo_id: int) -> dict[str, Any]:
    from smartalbum.tags.store import photo_tags, removed_tags

    lib = get_library()
    assert lib.factory is not None
    with lib.factory() as session:
        return {
            "photo_id": photo_id,
            "tags": [t.to_dict() for t in photo_tags(session, [photo_id])[photo_id]],
            "removed": removed_tags(session, photo_id),
        }


def _require_photo(photo_id: int) -> None:
    from smartalbum.library.schema import Photo

    lib = get_library()
    if lib.factory is None or photo_id > MAX_PHOTO_ID:
        raise photo_not_found(photo_id, lib)
    with lib.factory() as session:
        if session.get(Photo, photo_id) is None:
            raise photo_not_found(photo_id, lib)


@bp.get("/api/v1/photos/<int:photo_id>/tags")
@api.validate(
    query=NoQuery,
    resp=responses({200: (PhotoTags, "The tags")}, TAG_ERRORS),
    operation_id="getPhotoTags",
)
def list_tags(photo_id: int) -> Response:
    """A photo's tags (automatic and the user's) and the removed ones"""
    _require_photo(photo_id)
    return jsonify(_tags_body(photo_id))


@bp.post("/api/v1/photos/<int:photo_id>/tags")
@api.validate(
    query=NoQuery,
    json=TagBody,
    resp=responses({200: (PhotoTags, "The photo's tags")}, TAG_ERRORS),
    operation_id="addPhotoTag",
)
def add_tag(photo_id: int) -> Response:
    """Add a tag (the user's tags win over automatic tagging)"""
    from smartalbum.tags.store import add_tag as store_add

    body: TagBody = json_body()
    with _tag_edit(photo_id) as session:
        store_add(session, photo_id, body.tag)
    return jsonify(_tags_body(photo_id))


@bp.delete("/api/v1/photos/<int:photo_id>/tags/<path:tag>")
@api.validate(
    query=NoQuery,
    resp=responses({200: (PhotoTags, "The photo's tags")}, TAG_ERRORS),
    operation_id="removePhotoTag",
)
def remove_tag(photo_id: int, tag: str) -> Response:
    """Remove a tag (remembered: re-tagging never brings it back)"""
    from smartalbum.tags.store import remove_tag as store_remove

    with _tag_edit(photo_id) as session:
        if not store_remove(session, photo_id, tag):
            raise ProblemError(
                404, "Not Found", f"Photo {photo_id} has no tag {tag!r}.", code="tag_not_found"
            )
    return jsonify(_tags_body(photo_id))


@contextmanager
def _tag_edit(photo_id: int) -> Iterator[Session]:
    """A session to edit ``photo_id``'s tags in, committed at the end: an unknown photo is a
    404 problem, a tag the store refuses a 400 one, and search sees the edit at once."""
    from smartalbum.tags.store import PhotoNotFoundError

    _require_photo(photo_id)
    lib = get_library()
    assert lib.factory is not None
    with lib.factory() as session:
        try:
            yield session
        except PhotoNotFoundError:
            raise photo_not_found(photo_id, lib) from None
        except ValueError as exc:
            raise ProblemError(400, "Bad Request", f"tag: {exc}.", code="invalid_tag") from None
        session.commit()
    _edited()


def _edited() -> None:
    """A tag edit is searchable at once (the index otherwise trusts itself briefly)."""
    service = current_app.extensions.get(EXTENSION_KEY)
    if service is not None:
        service.invalidate()


# --------------------------------------------------------------------------- page


@bp.get("/search")
def page() -> str:
    query = (request.args.get("q") or "")[:MAX_QUERY_LENGTH]
    return render_template("search.html", query=query)
