"""The serverless shape: a function handler that classifies one image from an event.

Works with AWS Lambda (a function URL or API Gateway proxy event: the image is the
request body, base64-encoded as those services deliver binary bodies) and with a direct
invocation (``{"image": "<base64>", "filename": "a.jpg", "head": "album6"}``); other
function platforms wrap the same ``handler(event, context)`` in a line or two. The model
is loaded once per container (on the first event; a cold start) and reused by every
later event. Settings come from the environment as everywhere (SMARTALBUM_MODEL__BUNDLE,
SMARTALBUM_MODEL__HEAD, SMARTALBUM_IMAGING__MAX_PIXELS, SMARTALBUM_WEB__MAX_UPLOAD_MB).

The response is a proxy response: ``statusCode``, JSON ``body`` — the same result object
as ``POST /api/v1/classify``'s, or an RFC 9457 problem document for a bad event.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from smartalbum.config import get_settings


def _get_engine() -> Any:
    from smartalbum.model.engine import Engine

    return Engine.from_settings(get_settings())


def _response(status: int, body: dict[str, Any], problem: bool = False) -> dict[str, Any]:
    kind = "application/problem+json" if problem else "application/json"
    return {"statusCode": status, "headers": {"Content-Type": kind}, "body": json.dumps(body)}


def _problem(status: int, title: str, detail: str, code: str, **extra: Any) -> dict[str, Any]:
    """The web API's problem document (``web.problems``), as a proxy response."""
    from smartalbum.web.problems import problem_body

    body = problem_body(status, title, detail, code=code, **extra)
    return _response(status, body, problem=True)


def _image_from(event: dict[str, Any]) -> tuple[bytes, str, str | None]:
    """(bytes, filename, head) from a direct or an HTTP proxy event; ValueError if none."""
    query = event.get("queryStringParameters") or {}
    if "image" in event:
        data = base64.b64decode(event["image"], validate=True)
        return data, str(event.get("filename") or "image"), event.get("head")
    if "body" in event and event["body"] is not None:
        body = event["body"]
        if event.get("isBase64Encoded"):
            data = base64.b64decode(body, validate=True)
        else:
            data = body.encode("latin-1") if isinstance(body, str) else bytes(body)
        return data, str(query.get("filename") or "image"), query.get("head")
    raise ValueError("the event has no image: send it as the body, or as 'image' (base64)")


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:  # noqa: ARG001
    """Classify the event's image; a proxy response (see the module docstring)."""
    from smartalbum.model.bundle import UnknownHeadError
    from smartalbum.web.cache import LRUResultCache
    from smartalbum.web.classify import classify_uploads

    settings = get_settings()
    if not isinstance(event, dict):
        return _problem(400, "Bad Request", "the event must be a JSON object", "bad_event")
    try:
        data, filename, head = _image_from(event)
    except (ValueError, binascii.Error, TypeError) as exc:
        return _problem(400, "Bad Request", str(exc), "no_file")
    if len(data) > settings.web.max_upload_mb * 1024 * 1024:
        return _problem(413, "Too large", "the image is over the upload limit", "too_large")
    engine = _get_engine()
    try:
        head = engine.bundle.resolve_head(head, default=settings.model.head)
    except UnknownHeadError as exc:  # the same answer as POST /api/v1/classify's
        return _problem(exc.status, exc.title, exc.detail, exc.code, available=exc.available)
    (result,) = classify_uploads(
        [(filename, data)],
        engine=engine,
        head=head,
        cache=LRUResultCache(0),
        max_pixels=settings.imaging.max_pixels,
    )
    if result.error is not None:
        out = result.to_dict()["error"]
        return _problem(result.error.status, out["title"], out["detail"], out["code"])
    return _response(200, {"head": head, **result.to_dict()})
