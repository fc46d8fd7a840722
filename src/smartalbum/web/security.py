"""Security headers, the served hosts and origins, the optional API key and rate limiting,
installed on an app.

The page needs no inline script or style and loads nothing from elsewhere, so the
Content-Security-Policy can be strict; thumbnails are ``blob:`` object URLs.

Without an API key, the address alone guards the service, so the ``Host`` header is checked
(a page on ``attacker.example`` that re-points its name at 127.0.0.1, DNS rebinding, sends
``Host: attacker.example``) and a state-changing request from another site's page (a form
POST needs no CORS preflight) is refused by its ``Origin``.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import SecurityError
from werkzeug.wsgi import get_host

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
# probes for orchestrators, the API description, and the pages: every page is an empty
# shell whose data comes from the (keyed) API, and asks for the key (static/key.js) on a 401.
# tests/web/test_security.py checks that every page route is listed here.
PUBLIC_ENDPOINTS = frozenset(
    {
        "api.healthz",
        "api.readyz",
        "api.openapi",
        "ui.index",
        "static",
        "gallery.browse",
        "gallery.review",
        "gallery.duplicates",
        "gallery.photo",
        "gallery.trips",
        "library_api.trip_page",
        "jobs_api.page",
        "categories_api.page",
        "categories_api.category_page",
        "faces_api.people_page",
        "faces_api.person_page",
        "search_api.page",
        "i18n.switch",  # the language cookie, then back to the page
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


#: Names any server answers to: a browser resolves them to this machine only (RFC 6761;
#: ".localhost" matches localhost and its subdomains). Loopback IP literals (127.0.0.0/8,
#: ::1) are allowed by :func:`host_allowed` itself.
LOOPBACK_HOSTS = (".localhost",)
#: Methods that change something: their Origin must be this server's.
STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ANY_HOST = "*"


def hosts_for_bind(host: str) -> list[str]:
    """The names a server bound to ``host`` (``serve --host``) is reached by, beyond loopback:
    the address itself, or for every interface (0.0.0.0, ::) this machine's name and the
    addresses it resolves to. Other names (a reverse proxy's) are the operator's to list."""
    host = host.strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return [host] if host.lower() not in ("localhost", "localhost.") else []
    if address.is_loopback:
        return []
    if not address.is_unspecified:
        return [str(address)]
    names = {socket.gethostname(), socket.getfqdn()}
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        infos = []
    names |= {str(info[4][0]) for info in infos}
    return sorted(n for n in names if n)


def host_allowed(environ: dict[str, object], allowed: Iterable[str]) -> bool:
    """Whether the request's Host is one this server answers to: a name of ``allowed``
    (Werkzeug's trusted-hosts check: ports ignored, ".name" for subdomains, IDNA), a
    loopback address, or an IP literal of ``allowed`` (Werkzeug cannot match IPv6 ones).
    A request without Host (HTTP/1.0; never a browser's) is allowed."""
    header = environ.get("HTTP_HOST")
    if not isinstance(header, str):
        return True
    names = [name.lower() for name in (*LOOPBACK_HOSTS, *allowed)]
    # Names are case-insensitive; Werkzeug compares them as given.
    scheme = environ.get("wsgi.url_scheme", "http")
    try:
        get_host({"wsgi.url_scheme": scheme, "HTTP_HOST": header.lower()}, trusted_hosts=names)
        return True
    except SecurityError:
        pass
    try:
        address = ipaddress.ip_address(urlsplit(f"//{header}").hostname or "")
    except ValueError:  # not an address, or not even a host ("[::1")
        return False
    return address.is_loopback or any(_same_address(address, name) for name in allowed)


def _same_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address, name: str) -> bool:
    try:
        return ipaddress.ip_address(name.strip("[]")) == address
    except ValueError:
        return False


def install_host_check(app: Flask, allowed: Iterable[str]) -> None:
    """Refuse (400 ``untrusted_host``) a request for a host this server does not serve:
    loopback names by default, plus ``allowed`` (``SMARTALBUM_WEB__ALLOWED_HOSTS`` and the
    address ``serve --host`` binds); ``"*"`` in it turns the check off."""
    names = list(allowed)
    if ANY_HOST in names:
        return

    @app.before_request
    def _check_host() -> None:
        if not host_allowed(request.environ, names):
            raise ProblemError(
                400,
                "Bad Request",
                f"This server does not answer to the host {request.headers.get('Host')!r}; "
                "list it in SMARTALBUM_WEB__ALLOWED_HOSTS if it is this server's name.",
                code="untrusted_host",
            )


def request_origin() -> str | None:
    """Where the request comes from: its Origin, else its Referer's scheme and host, else
    None (a client that is not a browser: curl, scripts)."""
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin
    referer = request.headers.get("Referer")
    if not referer:
        return None
    try:
        parts = urlsplit(referer)
    except ValueError:  # unparseable: foreign by definition
        return "null"
    return f"{parts.scheme}://{parts.netloc}"


def same_origin(origin: str, host: str) -> bool:
    """Whether ``origin`` (scheme://host[:port], or "null") names the host the request was
    sent to (its Host header): the page that sent it was served by this server."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # "null" (sandboxed frames, file: pages, redirects) and the like
    default = ":443" if parts.scheme == "https" else ":80"
    return parts.netloc.lower().removesuffix(default) == host.lower().removesuffix(default)


def install_origin_check(app: Flask) -> None:
    """Refuse (403 ``cross_origin_request``) a POST/PUT/PATCH/DELETE sent by another site's
    page: a cross-site form needs no preflight and, without an API key, nothing else would
    stop it. Browsers send Origin on every such request (fetch and forms alike); requests
    with neither Origin nor Referer come from other clients and pass (the key, if set,
    still guards them)."""

    @app.before_request
    def _check_origin() -> None:
        if request.method not in STATE_CHANGING_METHODS:
            return
        origin = request_origin()
        if origin is None or same_origin(origin, request.headers.get("Host", "")):
            return
        raise ProblemError(
            403,
            "Forbidden",
            f"A {request.method} from another site ({origin}) is not accepted: "
            "send it from this server's own pages, or without a browser.",
            code="cross_origin_request",
        )


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
    reverse proxy every client shares the proxy's address: configure the limit there. With
    the default ``memory://`` storage each server process counts on its own, so N processes
    allow N times the limit (``serve`` warns, :func:`shared_limit_warning`); a
    ``redis://`` storage is one count for all.
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


def shared_limit_warning(web: WebSettings, processes: int) -> str | None:
    """What to tell the operator when ``processes`` server processes would each count the
    rate limit on their own (None: one process, no limit, or a shared storage)."""
    if processes <= 1 or not web.rate_limit or not web.rate_limit_storage.startswith("memory:"):
        return None
    return (
        f"the rate limit ({web.rate_limit}) is counted by each of the {processes} server "
        "processes on its own (memory:// storage), so a client may send up to "
        f"{processes} times as many requests; set SMARTALBUM_WEB__RATE_LIMIT_STORAGE="
        "redis://host:port to share one count"
    )
