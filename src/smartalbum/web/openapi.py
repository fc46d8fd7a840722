"""The OpenAPI 3 description of the API, built in Python from the app's settings.

Built rather than written as YAML so that it needs no YAML parser and stays true to the
configuration it is served with: the limits in descriptions, and the API-key scheme only
when a key is configured. tests/web/test_openapi.py validates it against the OpenAPI
meta-schema, checks that it names exactly the blueprint's routes, and lets schemathesis
probe the app with it.
"""

from __future__ import annotations

from typing import Any

from smartalbum import __version__
from smartalbum.config import Settings
from smartalbum.web.security import API_KEY_HEADER

PROBLEM = "application/problem+json"


def ref(name: str) -> dict[str, str]:
    """A reference to one of the document's component schemas (every blueprint uses it)."""
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": ref("Problem")}}}


def error_responses(
    problem: Any, text: dict[int, str], statuses: tuple[int, ...], keyed: bool
) -> dict[str, Any]:
    """The error responses of an operation: ``statuses`` described by ``text`` (401 only
    when an API key is configured), plus a problem document for anything else. Shared by
    every blueprint's part of the document."""
    out = {str(s): problem(text[s]) for s in statuses if s != 401 or keyed}
    out["default"] = problem("Any other error, as a problem document.")
    return out


def json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON response of ``schema`` (every blueprint uses it)."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "An error (RFC 9457 problem details).",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "description": "urn:smartalbum:problem:CODE or about:blank"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string", "description": "stable machine-readable error code"},
            "filename": {"type": "string", "nullable": True},
            "available": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": True,
    },
    "PhotoError": {
        "type": "object",
        "required": ["code", "title", "detail"],
        "properties": {
            "code": {
                "type": "string",
                "description": "empty_file, not_an_image, unsupported_format, corrupt_image, "
                "too_many_pixels, ...",
            },
            "title": {"type": "string"},
            "detail": {"type": "string"},
        },
    },
    "Result": {
        "type": "object",
        "description": "One uploaded photo: a prediction, or an error (then label etc. are null).",
        "required": [
            "filename",
            "sha256",
            "label",
            "confidence",
            "uncertain",
            "probabilities",
            "cached",
            "error",
        ],
        "properties": {
            "filename": {"type": "string"},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "label": _nullable({"type": "string"}),
            "confidence": _nullable({"type": "number", "minimum": 0, "maximum": 1}),
            "uncertain": _nullable({"type": "boolean"}),
            "probabilities": _nullable(
                {"type": "object", "additionalProperties": {"type": "number"}}
            ),
            "cached": {"type": "boolean"},
            "error": {"allOf": [ref("PhotoError")], "nullable": True},
        },
    },
    "ClassifyResponse": {
        "type": "object",
        "required": ["results", "model"],
        "properties": {
            "results": {"type": "array", "items": ref("Result")},
            "model": {
                "type": "object",
                "required": ["name", "version", "head"],
                "properties": {
                    "name": {"type": "string"},
                    "version": {"type": "string"},
                    "head": {"type": "string"},
                },
            },
        },
    },
    "Head": {
        "type": "object",
        "required": ["name", "labels", "threshold", "metrics"],
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "labels": {"type": "array", "items": {"type": "string"}},
            "threshold": {"type": "number"},
            "metrics": {"type": "object"},
        },
    },
    "ModelInfo": {
        "type": "object",
        "required": ["name", "version", "default_head", "heads", "limits"],
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "string"},
            "default_head": {"type": "string"},
            "backbone": {"type": "object"},
            "preprocess": {"type": "object"},
            "heads": {"type": "array", "items": ref("Head")},
            "limits": {
                "type": "object",
                "required": ["max_upload_mb", "max_files"],
                "properties": {
                    "max_upload_mb": {"type": "number"},
                    "max_files": {"type": "integer"},
                },
            },
        },
    },
    "Status": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}, "model": {"type": "object"}},
    },
}


def build_openapi(settings: Settings, heads: list[str], default_head: str) -> dict[str, Any]:
    """The OpenAPI 3.0 document for an app built with ``settings`` over a bundle with
    ``heads`` (listed as the ``head`` parameter's allowed values)."""
    web = settings.web
    head_schema = {"type": "string", "enum": list(heads), "default": default_head}
    keyed = bool(web.api_key)
    guarded: dict[str, Any] = {"security": [{"ApiKey": []}]} if keyed else {}

    def errors(*statuses: int) -> dict[str, Any]:
        text = {
            400: "No file, malformed request, unknown head, or (single file) an empty file.",
            401: f"Missing or wrong {API_KEY_HEADER}.",
            413: f"Body over {web.max_upload_mb:g} MB, more than {web.max_files} files, or "
            "(single file) an image over the pixel limit.",
            415: "The single uploaded file is not a readable image.",
            429: f"Rate limited ({web.rate_limit or 'disabled'}) per client address.",
        }
        return error_responses(_problem, text, statuses, keyed)

    upload_body = {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "minItems": 1,
                            "maxItems": web.max_files,
                            "description": f"one to {web.max_files} photos",
                        },
                        "head": {**head_schema, "description": "head name (optional)"},
                    },
                }
            }
        },
    }
    paths: dict[str, Any] = {
        "/api/v1/classify": {
            "post": {
                "operationId": "classify",
                "summary": "Classify one or more photos",
                "description": "One result per file, in order. In a batch an unreadable file "
                "gets an error in its result and the others still succeed (200); a request "
                "with a single unreadable file fails with 400/413/415.",
                "parameters": [
                    {
                        "name": "head",
                        "in": "query",
                        "required": False,
                        "schema": head_schema,
                        "description": "head name; the form field wins over this",
                    }
                ],
                "requestBody": upload_body,
                "responses": {
                    "200": json_response("Results", ref("ClassifyResponse")),
                    **errors(400, 401, 413, 415, 429),
                },
                **guarded,
            }
        },
        "/classify": {
            "post": {
                "operationId": "classifyCompat",
                "summary": "The seed's endpoint: one photo -> its class",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {"file": {"type": "string", "format": "binary"}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": json_response(
                        "The label under the default head",
                        {
                            "type": "object",
                            "required": ["class"],
                            "properties": {"class": {"type": "string"}},
                        },
                    ),
                    **errors(400, 401, 413, 415, 429),
                },
                **guarded,
            }
        },
        "/api/v1/model": {
            "get": {
                "operationId": "model",
                "summary": "The loaded model bundle, its heads, labels and limits",
                "responses": {"200": json_response("Model", ref("ModelInfo")), **errors(401, 429)},
                **guarded,
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": json_response("OpenAPI 3 document", {"type": "object"})},
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness: the process answers",
                "responses": {"200": json_response("Alive", ref("Status"))},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Readiness: the model is loaded and runs",
                "responses": {
                    "200": json_response("Ready", ref("Status")),
                    "503": _problem("The model cannot run"),
                },
            }
        },
    }
    paths.update(_library_paths(web, heads, default_head, guarded))
    from smartalbum.web import jobs_api

    paths.update(jobs_api.openapi_paths(_problem, guarded, keyed))
    from smartalbum.web import search_api

    paths.update(search_api.openapi_paths(_problem, guarded, keyed))
    from smartalbum.web import faces_api

    paths.update(faces_api.openapi_paths(_problem, guarded, keyed))
    from smartalbum.web import categories_api

    paths.update(categories_api.openapi_paths(_problem, guarded, keyed))
    from smartalbum.mobile import web as mobile_api

    paths.update(mobile_api.openapi_paths(_problem, guarded, keyed))
    components: dict[str, Any] = {
        "schemas": {
            **categories_api.openapi_schemas(),
            **SCHEMAS,
            **LIBRARY_SCHEMAS,
            **jobs_api.openapi_schemas(),
            **search_api.openapi_schemas(),
            **faces_api.openapi_schemas(),
            **mobile_api.openapi_schemas(),
        }
    }
    if keyed:
        components["securitySchemes"] = {
            "ApiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}
        }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Smart Album API",
            "version": f"1 ({__version__})",
            "description": "Classify photos offline, and browse, review and correct the "
            "photo library's catalog. See docs/api.md.",
        },
        "paths": paths,
        "components": components,
    }


# --------------------------------------------------------------------------- library API

_STR = {"type": "string"}
_INT = {"type": "integer"}
_NUM = {"type": "number"}
_BOOL = {"type": "boolean"}

_PHOTO_ITEM_PROPS: dict[str, Any] = {
    "id": _INT,
    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "path": _nullable({**_STR, "description": "first present copy"}),
    "taken_at": _nullable(
        {**_STR, "description": "camera local time, ISO 8601 without offset (see metadata)"}
    ),
    "taken_at_source": _nullable({**_STR, "description": "exif, or file (modification time)"}),
    "width": _INT,
    "height": _INT,
    "format": _STR,
    "size": {**_INT, "description": "bytes"},
    "camera": _nullable(_STR),
    "city": _nullable(_STR),
    "region": _nullable(_STR),
    "country": _nullable({**_STR, "description": "ISO 3166 alpha-2"}),
    "label": _nullable({**_STR, "description": "the latest correction, else the prediction"}),
    "label_source": _nullable({**_STR, "description": "correction or prediction"}),
    "confidence": _nullable({**_NUM, "description": "the prediction's, even when corrected"}),
    "uncertain": {**_BOOL, "description": "predicted below the threshold and not corrected"},
    "review": {
        "type": "array",
        "items": _STR,
        "description": "why it is on the review list: uncertain, blurry, exposure",
    },
    "thumbnail": {**_STR, "description": "URL of the JPEG thumbnail"},
}

_MEMBER = {
    "type": "object",
    "required": ["photo_id", "path", "width", "height", "taken_at", "blur", "sha256", "size"],
    "properties": {
        "photo_id": _INT,
        "path": _nullable(_STR),
        "width": _INT,
        "height": _INT,
        "taken_at": _nullable(_STR),
        "blur": _nullable(_NUM),
        "sha256": _STR,
        "size": _INT,
        "thumbnail": _STR,
    },
}


def _count_of(key: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    props = {key: extra or _STR, "count": _INT}
    return {"type": "object", "required": list(props), "properties": props}


LIBRARY_SCHEMAS: dict[str, Any] = {
    "PhotoItem": {
        "type": "object",
        "description": "A photo of the catalog, as a gallery tile shows it.",
        "required": list(_PHOTO_ITEM_PROPS),
        "properties": _PHOTO_ITEM_PROPS,
    },
    "PhotoPage": {
        "type": "object",
        "required": ["items", "next_cursor", "limit", "head"],
        "properties": {
            "items": {"type": "array", "items": ref("PhotoItem")},
            "next_cursor": _nullable(
                {**_STR, "description": "pass as cursor for the next page; null at the end"}
            ),
            "limit": _INT,
            "head": _STR,
        },
    },
    "PhotoDetail": {
        "type": "object",
        "description": "Everything the catalog holds on a photo (but its embedding).",
        "required": [
            *_PHOTO_ITEM_PROPS,
            "files",
            "metadata",
            "place",
            "quality",
            "prediction",
            "predictions",
            "corrections",
        ],
        "properties": {
            **_PHOTO_ITEM_PROPS,
            "files": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["path", "status", "size", "mtime_ns"],
                    "properties": {
                        "path": _STR,
                        "status": {**_STR, "description": "present or missing"},
                        "size": _INT,
                        "mtime_ns": _INT,
                        "first_seen": _nullable(_STR),
                        "last_seen": _nullable(_STR),
                    },
                },
            },
            "metadata": {
                "type": "object",
                "properties": {
                    "taken_at": _nullable(_STR),
                    "taken_at_source": _nullable(_STR),
                    "tz_offset_min": _nullable(_INT),
                    "camera_make": _nullable(_STR),
                    "camera_model": _nullable(_STR),
                    "format": _STR,
                    "width": _INT,
                    "height": _INT,
                    "size": _INT,
                    "phash": _nullable(_STR),
                    "dhash": _nullable(_STR),
                },
            },
            "place": {
                "type": "object",
                "properties": {
                    "latitude": _nullable(_NUM),
                    "longitude": _nullable(_NUM),
                    "altitude": _nullable(_NUM),
                    "city": _nullable(_STR),
                    "region": _nullable(_STR),
                    "country": _nullable(_STR),
                },
            },
            "quality": {
                "type": "object",
                "properties": {
                    "blur": _nullable(_NUM),
                    "blurry": _BOOL,
                    "exposure_mean": _nullable(_NUM),
                    "exposure_dark": _nullable(_NUM),
                    "exposure_bright": _nullable(_NUM),
                    "exposure_verdict": _nullable(_STR),
                },
            },
            "prediction": _nullable(
                {
                    "type": "object",
                    "description": "the head's latest prediction (the one that counts)",
                    "properties": {
                        "label": _STR,
                        "confidence": _NUM,
                        "uncertain": _BOOL,
                        "probabilities": {"type": "object", "additionalProperties": _NUM},
                        "head": _STR,
                        "head_version": _STR,
                    },
                }
            ),
            "predictions": {
                "type": "array",
                "description": "every stored prediction, newest first",
                "items": {
                    "type": "object",
                    "properties": {
                        "head": _STR,
                        "head_version": _STR,
                        "backbone_version": _STR,
                        "label": _STR,
                        "confidence": _NUM,
                        "uncertain": _BOOL,
                        "probabilities": {"type": "object", "additionalProperties": _NUM},
                        "created_at": _nullable(_STR),
                    },
                },
            },
            "corrections": {
                "type": "array",
                "description": "the user's labels, newest (the one that counts) first",
                "items": {
                    "type": "object",
                    "required": ["id", "label", "source"],
                    "properties": {
                        "id": _INT,
                        "label": _STR,
                        "head": _nullable(_STR),
                        "source": _STR,
                        "created_at": _nullable(_STR),
                    },
                },
            },
        },
    },
    "DuplicateGroup": {
        "type": "object",
        "required": ["group", "kind", "keep", "reason", "members"],
        "properties": {
            "group": {**_INT, "description": "1-based position in the whole listing"},
            "kind": {"type": "string", "enum": ["exact", "near"]},
            "keep": _MEMBER,
            "reason": {**_STR, "description": "why the first member is the one to keep"},
            "members": {"type": "array", "items": _MEMBER, "minItems": 2},
            "max_hamming": _nullable(_INT),
            "min_cosine": _nullable(_NUM),
            "max_pixel_diff": _nullable(_NUM),
        },
    },
    "DuplicatesPage": {
        "type": "object",
        "required": ["groups", "total", "next_cursor"],
        "properties": {
            "groups": {"type": "array", "items": ref("DuplicateGroup")},
            "total": _INT,
            "next_cursor": _nullable(_STR),
        },
    },
    "Stats": {
        "type": "object",
        "required": [
            "head",
            "catalog",
            "counts",
            "photos",
            "labels",
            "unlabelled",
            "years",
            "undated",
            "countries",
            "places",
            "cameras",
            "review",
        ],
        "properties": {
            "head": _STR,
            "catalog": {
                "type": "object",
                "required": ["available", "error"],
                "properties": {"available": _BOOL, "error": _nullable(_STR)},
            },
            "counts": {"type": "object", "additionalProperties": _INT},
            "photos": {**_INT, "description": "photos with a copy on disk"},
            "labels": {"type": "array", "items": _count_of("label")},
            "unlabelled": _INT,
            "years": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["year", "count", "months"],
                    "properties": {
                        "year": _INT,
                        "count": _INT,
                        "months": {"type": "array", "items": _count_of("month", _INT)},
                    },
                },
            },
            "undated": _INT,
            "countries": {"type": "array", "items": _count_of("country")},
            "places": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["country", "city", "count"],
                    "properties": {
                        "country": _STR,
                        "region": _nullable(_STR),
                        "city": _STR,
                        "count": _INT,
                    },
                },
            },
            "cameras": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["camera", "count"],
                    "properties": {
                        "camera": _STR,
                        "make": _nullable(_STR),
                        "model": _nullable(_STR),
                        "count": _INT,
                    },
                },
            },
            "review": {
                "type": "object",
                "required": ["uncertain", "blurry", "bad_exposure", "any"],
                "properties": {
                    "uncertain": _INT,
                    "blurry": _INT,
                    "bad_exposure": _INT,
                    "any": _INT,
                },
            },
        },
    },
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _library_paths(
    web: Any, heads: list[str], default_head: str, guarded: dict[str, Any]
) -> dict[str, Any]:
    """The library API's operations (web/library_api.py)."""
    keyed = bool(guarded)
    text = {
        400: "A bad parameter or body (unknown parameter, head or label; bad cursor).",
        401: f"Missing or wrong {API_KEY_HEADER}.",
        404: "No such photo in the catalog (or no readable copy for a thumbnail).",
        429: f"Rate limited ({web.rate_limit or 'disabled'}) per client address.",
    }

    def errors(*statuses: int) -> dict[str, Any]:
        return error_responses(_problem, text, statuses, keyed)

    head = _query(
        "head",
        {"type": "string", "enum": list(heads), "default": default_head},
        "whose predictions count (default: the app's head)",
    )
    short = {"type": "string", "minLength": 1, "maxLength": 200}
    flag = {"type": "boolean"}
    photo_id = {
        "name": "photo_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    }
    cursor = _query(
        "cursor",
        {"type": "string", "minLength": 1, "maxLength": 1000},
        "next_cursor of the previous page (opaque)",
    )

    def limit(default: int) -> dict[str, Any]:
        return _query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": 200, "default": default},
            "items per page",
        )

    return {
        "/api/v1/photos": {
            "get": {
                "operationId": "listPhotos",
                "summary": "Photos of the catalog, newest first, filtered, page by page",
                "description": "Photos with a copy on disk, ordered by capture time (newest "
                "first; undated last, newest indexed first). Pages are keyset-paginated: pass "
                "next_cursor back as cursor, with the same filters. Filters combine (AND).",
                "parameters": [
                    head,
                    _query("label", short, "the label that counts (correction, else prediction)"),
                    _query("uncertain", flag, "predicted below the threshold, not corrected"),
                    _query("blurry", flag, "blur score below the threshold"),
                    _query("bad_exposure", flag, "exposure verdict under or over"),
                    _query("review", flag, "any of uncertain, blurry, badly exposed"),
                    _query("year", {"type": "integer", "minimum": 1, "maximum": 9998}, "year"),
                    _query("month", {"type": "integer", "minimum": 1, "maximum": 12}, "month"),
                    _query(
                        "country",
                        {"type": "string", "minLength": 1, "maxLength": 2},
                        "ISO 3166 alpha-2 country code",
                    ),
                    _query("place", short, "city name (as in stats.places)"),
                    _query("camera", short, "camera model (or make when the model is unknown)"),
                    _query("q", short, "text in the place, the camera or a file path"),
                    limit(60),
                    cursor,
                ],
                "responses": {
                    "200": json_response("A page of photos", ref("PhotoPage")),
                    **errors(400, 401, 429),
                },
                **guarded,
            }
        },
        "/api/v1/photos/{photo_id}": {
            "get": {
                "operationId": "getPhoto",
                "summary": "One photo: files, metadata, place, quality, predictions, corrections",
                "parameters": [photo_id, head],
                "responses": {
                    "200": json_response("The photo", ref("PhotoDetail")),
                    **errors(400, 401, 404, 429),
                },
                **guarded,
            },
            "patch": {
                "operationId": "correctPhoto",
                "summary": "Correct a photo's label (stored; wins over predictions everywhere)",
                "description": "The label must be one of the head's labels (GET /api/v1/model); "
                "anything else is a 400 problem listing them. Corrections are kept as history; "
                "the latest counts.",
                "parameters": [photo_id],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["label"],
                                "additionalProperties": False,
                                "properties": {
                                    "label": {**short, "description": "a label of the head"},
                                    "head": {
                                        "type": "string",
                                        "enum": list(heads),
                                        "default": default_head,
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": json_response("The photo, corrected", ref("PhotoDetail")),
                    **errors(400, 401, 404, 429),
                },
                **guarded,
            },
        },
        "/api/v1/photos/{photo_id}/thumbnail": {
            "get": {
                "operationId": "getThumbnail",
                "summary": "The photo's JPEG thumbnail (made once, then served from disk)",
                "description": "At most 320 px on its longest side. ETag is the photo's SHA-256 "
                "and it may be cached for a year (private, immutable). Not rate limited.",
                "parameters": [photo_id],
                "responses": {
                    "200": {
                        "description": "The thumbnail",
                        "content": {
                            "image/jpeg": {"schema": {"type": "string", "format": "binary"}}
                        },
                    },
                    "304": {"description": "Not modified (If-None-Match matched)"},
                    **errors(401, 404),
                },
                **guarded,
            }
        },
        "/api/v1/duplicates": {
            "get": {
                "operationId": "listDuplicates",
                "summary": "Groups of duplicate photos and the copy to keep",
                "description": "Exact copies (same bytes at several paths) and near-duplicates "
                "(resized, re-encoded copies; bursts are not grouped). The first member of a "
                "group is the suggested copy to keep. Computed once per catalog change; the "
                "first request on a large catalog can take a while. Nothing is ever deleted.",
                "parameters": [
                    _query("near", {"type": "boolean", "default": True}, "include near-duplicates"),
                    limit(50),
                    cursor,
                ],
                "responses": {
                    "200": json_response("A page of groups", ref("DuplicatesPage")),
                    **errors(400, 401, 429),
                },
                **guarded,
            }
        },
        "/api/v1/stats": {
            "get": {
                "operationId": "stats",
                "summary": "Counts per label, year and month, place, camera and review reason",
                "parameters": [head],
                "responses": {
                    "200": json_response("Counts over photos with a copy on disk", ref("Stats")),
                    **errors(400, 401, 429),
                },
                **guarded,
            }
        },
        "/api/v1/trips": {
            "get": {
                "operationId": "trips",
                "summary": "Trips away from home, newest first, with places, scenes, previews",
                "parameters": [
                    head,
                    {
                        "name": "home",
                        "in": "query",
                        "required": False,
                        "description": "home as LAT,LON (default: settings, else learned)",
                        "schema": {"type": "string", "maxLength": 64},
                    },
                ],
                "responses": {
                    "200": json_response(
                        "Home (null when no photo has a position) and the trips",
                        {
                            "type": "object",
                            "required": ["home", "trips"],
                            "properties": {
                                "home": {"type": "object", "nullable": True},
                                "trips": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["id", "title", "start", "end", "photos"],
                                        "properties": {
                                            "id": {"type": "string"},
                                            "title": {"type": "string"},
                                            "start": {"type": "string"},
                                            "end": {"type": "string"},
                                            "photos": {"type": "integer"},
                                            "photo_ids": {
                                                "type": "array",
                                                "items": {"type": "integer"},
                                            },
                                            "places": {"type": "array"},
                                            "labels": {"type": "object"},
                                            "preview": {"type": "array"},
                                        },
                                    },
                                },
                            },
                        },
                    ),
                    **errors(400, 401, 429),
                },
                **guarded,
            }
        },
    }
