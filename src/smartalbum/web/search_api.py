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
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from smartalbum.tags.search import (
    DEFAULT_LIMIT,
    MAX_QUERY_LENGTH,
    SearchQueryError,
    SearchService,
    service_from_settings,
)
from smartalbum.web.library_api import (
    MAX_PHOTO_ID,
    _arg_int,
    _check_params,
    _engine_and_head,
    _load,
    _not_found,
    get_library,
    photo_item,
)
from smartalbum.web.openapi import error_responses, json_response, ref
from smartalbum.web.problems import ProblemError

bp = Blueprint("search_api", __name__)

EXTENSION_KEY = "smartalbum.search"
MAX_LIMIT = 200
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


def _bad(detail: str, code: str = "bad_parameter", **extra: Any) -> ProblemError:
    return ProblemError(400, "Bad Request", detail, code=code, **extra)


@bp.get("/api/v1/search")
def search() -> Response:
    _check_params({"q", "limit"})
    text = request.args.get("q")
    if text is None:
        raise _bad("Give the words to look for as q.", parameter="q")
    limit = _arg_int("limit", 1, MAX_LIMIT, DEFAULT_LIMIT)
    assert limit is not None
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
        raise _bad(f"q: {exc}.", parameter="q") from None
    out = result.to_dict()
    _, head = _engine_and_head()
    assert get_library().factory is not None
    with get_library().factory() as session:
        records = {r.id: r for r in _load(session, [h.photo_id for h in result.hits], head)}
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
        raise _not_found(photo_id, lib)
    with lib.factory() as session:
        if session.get(Photo, photo_id) is None:
            raise _not_found(photo_id, lib)


@bp.get("/api/v1/photos/<int:photo_id>/tags")
def list_tags(photo_id: int) -> Response:
    _check_params(set())
    _require_photo(photo_id)
    return jsonify(_tags_body(photo_id))


@bp.post("/api/v1/photos/<int:photo_id>/tags")
def add_tag(photo_id: int) -> Response:
    """Add the user's tag (``{"tag": "..."}``); it wins over automatic tagging."""
    from smartalbum.tags.store import PhotoNotFoundError
    from smartalbum.tags.store import add_tag as store_add

    _check_params(set())
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("tag"), str) or set(body) != {"tag"}:
        raise _bad('Send a JSON object {"tag": "..."}.', code="invalid_body")
    _require_photo(photo_id)
    lib = get_library()
    assert lib.factory is not None
    with lib.factory() as session:
        try:
            store_add(session, photo_id, body["tag"])
        except PhotoNotFoundError:
            raise _not_found(photo_id, lib) from None
        except ValueError as exc:
            raise _bad(f"tag: {exc}.", code="invalid_tag") from None
        session.commit()
    _edited()
    return jsonify(_tags_body(photo_id))


@bp.delete("/api/v1/photos/<int:photo_id>/tags/<path:tag>")
def remove_tag(photo_id: int, tag: str) -> Response:
    """Remove a tag; re-tagging will not bring it back."""
    from smartalbum.tags.store import PhotoNotFoundError
    from smartalbum.tags.store import remove_tag as store_remove

    _check_params(set())
    _require_photo(photo_id)
    lib = get_library()
    assert lib.factory is not None
    with lib.factory() as session:
        try:
            removed = store_remove(session, photo_id, tag)
        except PhotoNotFoundError:
            raise _not_found(photo_id, lib) from None
        except ValueError as exc:
            raise _bad(f"tag: {exc}.", code="invalid_tag") from None
        if not removed:
            raise ProblemError(
                404, "Not Found", f"Photo {photo_id} has no tag {tag!r}.", code="tag_not_found"
            )
        session.commit()
    _edited()
    return jsonify(_tags_body(photo_id))


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


# --------------------------------------------------------------------------- OpenAPI


def openapi_schemas() -> dict[str, Any]:
    tag = {
        "type": "object",
        "required": ["tag", "confidence", "source"],
        "properties": {
            "tag": {"type": "string"},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "source": {"type": "string", "enum": ["auto", "user"]},
        },
    }
    return {
        "Tag": tag,
        "PhotoTags": {
            "type": "object",
            "required": ["photo_id", "tags", "removed"],
            "properties": {
                "photo_id": {"type": "integer"},
                "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
                "removed": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "tags the user removed (never given back automatically)",
                },
            },
        },
        "SearchResults": {
            "type": "object",
            "required": ["query", "total", "parts", "unmatched", "dates", "semantic", "results"],
            "properties": {
                "query": {"type": "string"},
                "total": {"type": "integer", "description": "photos matching (all pages)"},
                "parts": {"type": "array", "items": {"type": "string"}},
                "unmatched": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "query words nothing in the catalog matched",
                },
                "dates": {"type": "array", "items": {"type": "string"}},
                "semantic": {
                    "type": "boolean",
                    "description": "near words were matched (the text model is installed)",
                },
                "message": {"type": "string", "nullable": True},
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["photo_id", "score", "matched", "why"],
                        "properties": {
                            "photo_id": {"type": "integer"},
                            "score": {"type": "number"},
                            "matched": {"type": "integer"},
                            "why": {"type": "array", "items": {"type": "string"}},
                            "photo": {
                                "allOf": [{"$ref": "#/components/schemas/PhotoItem"}],
                                "nullable": True,
                            },
                        },
                    },
                },
            },
        },
    }


def openapi_paths(problem: Any, guarded: dict[str, Any], keyed: bool) -> dict[str, Any]:
    def errors(*statuses: int) -> dict[str, Any]:
        text = {
            400: "A bad parameter or body (empty or over-long query or tag, unknown parameter).",
            401: "Missing or wrong API key.",
            404: "No such photo (or no such tag of the photo).",
            429: "Rate limited.",
        }
        return error_responses(problem, text, statuses, keyed)

    photo_id = {
        "name": "photo_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    }
    return {
        "/api/v1/search": {
            "get": {
                "operationId": "search",
                "summary": "Find photos by words: tags, categories, places, people, camera, dates",
                "description": 'Plain words ("beach", "my dog", "Florence 2023", "May 2024", '
                '"Anna at the lake"); near words match too when the text model is installed '
                '("puppy" finds dogs). Ranked; every result says why it matched.',
                "parameters": [
                    {
                        "name": "q",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_LENGTH},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_LIMIT,
                            "default": DEFAULT_LIMIT,
                        },
                    },
                ],
                "responses": {
                    "200": json_response("Ranked results", ref("SearchResults")),
                    **errors(400, 401, 429),
                },
                **guarded,
            }
        },
        "/api/v1/photos/{photo_id}/tags": {
            "get": {
                "operationId": "getPhotoTags",
                "summary": "A photo's tags (automatic and the user's) and the removed ones",
                "parameters": [photo_id],
                "responses": {
                    "200": json_response("The tags", ref("PhotoTags")),
                    **errors(400, 401, 404, 429),
                },
                **guarded,
            },
            "post": {
                "operationId": "addPhotoTag",
                "summary": "Add a tag (the user's tags win over automatic tagging)",
                "parameters": [photo_id],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["tag"],
                                "additionalProperties": False,
                                "properties": {
                                    "tag": {"type": "string", "minLength": 1, "maxLength": 64}
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": json_response("The photo's tags", ref("PhotoTags")),
                    **errors(400, 401, 404, 429),
                },
                **guarded,
            },
        },
        "/api/v1/photos/{photo_id}/tags/{tag}": {
            "delete": {
                "operationId": "removePhotoTag",
                "summary": "Remove a tag (remembered: re-tagging never brings it back)",
                "parameters": [
                    photo_id,
                    {
                        "name": "tag",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 64},
                    },
                ],
                "responses": {
                    "200": json_response("The photo's tags", ref("PhotoTags")),
                    **errors(400, 401, 404, 429),
                },
                **guarded,
            }
        },
    }
