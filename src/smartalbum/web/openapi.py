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


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": _ref("Problem")}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
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
            "error": {"allOf": [_ref("PhotoError")], "nullable": True},
        },
    },
    "ClassifyResponse": {
        "type": "object",
        "required": ["results", "model"],
        "properties": {
            "results": {"type": "array", "items": _ref("Result")},
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
            "heads": {"type": "array", "items": _ref("Head")},
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
        wanted = [s for s in statuses if s != 401 or keyed]
        out = {str(s): _problem(text[s]) for s in wanted}
        out["default"] = _problem("Any other error, as a problem document.")
        return out

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
                    "200": _json("Results", _ref("ClassifyResponse")),
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
                    "200": _json(
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
                "responses": {"200": _json("Model", _ref("ModelInfo")), **errors(401, 429)},
                **guarded,
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": _json("OpenAPI 3 document", {"type": "object"})},
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness: the process answers",
                "responses": {"200": _json("Alive", _ref("Status"))},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Readiness: the model is loaded and runs",
                "responses": {
                    "200": _json("Ready", _ref("Status")),
                    "503": _problem("The model cannot run"),
                },
            }
        },
    }
    components: dict[str, Any] = {"schemas": SCHEMAS}
    if keyed:
        components["securitySchemes"] = {
            "ApiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}
        }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Smart Album API",
            "version": f"1 ({__version__})",
            "description": "Classify photos offline. See docs/api.md.",
        },
        "paths": paths,
        "components": components,
    }
