"""Security headers, the optional API key and rate limiting, installed on an app.

The page needs no inline script or style and loads nothing from elsewhere, so the
Content-Security-Policy can be strict; thumbnails are ``blob:`` object URLs.
"""

from __future__ import annotations

import hmac
import re

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from smartalbum.config import WebSettings
from smartalbum.web.problems import ProblemError

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

API_KEY_HEADER = "X-API-Key"

# Endpoints any client may call without a key and without counting against the rate limit:
# probes for orchestrators, the API description, and the page itself.
PUBLIC_ENDPOINTS = frozenset(
    {
        "api.healthz",
        "api.readyz",
        "api.openapi",
        "ui.index",
        "static",
        # The gallery's pages are empty shells: their data comes from the (keyed) API.
        "gallery.browse",
        "gallery.review",
        "gallery.duplicates",
        "gallery.photo",
        "gallery.trips",
        "jobs_api.page",
    }
)
# Not counted against the rate limit (but keyed like the rest): a gallery page shows
# dozens of thumbnails at once, each made once and then served from disk.
UNLIMITED_ENDPOINTS = frozenset({"library_api.thumbnail"})


def install_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(resp: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(name, value)
        return resp


def install_api_key(app: Flask, api_key: str | None) -> None:
    """When a key is configured, every non-public endpoint requires ``X-API-Key``."""
    if not api_key:
        return
    expected = api_key.encode()

    @app.before_request
    def _check_key() -> None:
        if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
            return  # unknown URLs fall through to a plain 404
        given = request.headers.get(API_KEY_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            raise ProblemError(
                401,
                "Unauthorized",
                f"Send the API key in the {API_KEY_HEADER} header.",
                code="api_key_required",
            )


#: Deepest JSON nesting any request may carry: the API's bodies are at most a few levels
#: deep, while ~1,000 levels (2 KB) exhaust the parsers' recursion and became a 500.
MAX_JSON_DEPTH = 32
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def json_depth(data: bytes) -> int:
    """How deeply ``data`` (JSON text) nests arrays and objects, counted before any parse:
    strings are skipped whole (C regex), so only brackets are looked at in Python."""
    depth = deepest = 0
    for token in _JSON_TOKENS.findall(data):
        if token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


def check_json_depth(data: bytes, parameter: str = "body") -> None:
    """A 400 problem for JSON nested deeper than :data:`MAX_JSON_DEPTH`."""
    if json_depth(data) > MAX_JSON_DEPTH:
        raise ProblemError.bad_parameter(
            parameter, f"The JSON is nested deeper than {MAX_JSON_DEPTH} levels."
        )


def install_json_depth_limit(app: Flask) -> None:
    """Every JSON request body is checked for depth before anything parses it."""

    @app.before_request
    def _check_json_depth() -> None:
        if request.is_json and request.content_length:
            check_json_depth(request.get_data(cache=True))


def install_rate_limit(app: Flask, web: WebSettings) -> Limiter:
    """Per-client-address limit on every endpoint except the public ones.

    Counted per request, not per photo (the page sends a few photos per request). Behind a
    reverse proxy every client shares the proxy's address: configure the limit there.
    """
    limiter = Limiter(
        get_remote_address,
        app=app,
        # One budget per client across all limited endpoints (default_limits would count
        # each endpoint separately).
        application_limits=[web.rate_limit] if web.rate_limit else [],
        storage_uri=web.rate_limit_storage,
        headers_enabled=True,
        enabled=bool(web.rate_limit),
    )
    for endpoint in PUBLIC_ENDPOINTS | UNLIMITED_ENDPOINTS:
        view = app.view_functions.get(endpoint)
        if view is not None:
            limiter.exempt(view)
    return limiter
