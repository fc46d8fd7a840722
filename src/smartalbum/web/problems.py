"""Errors as RFC 9457 problem documents (``application/problem+json``).

Every error the service answers, from a bad upload to an unknown URL or a bug, goes
through here, so clients parse one shape and never see an HTML page or a stack trace. A
domain error (any :class:`smartalbum.errors.SmartAlbumError`: photo, face, category,
bundle, sync, ...) needs no mapping in the blueprints: it carries its code and status, and
one handler here answers it.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, current_app, has_request_context
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from smartalbum.errors import DiskFullError, SmartAlbumError, is_disk_full
from smartalbum.imaging.errors import PhotoError
from smartalbum.web.classify import photo_error_dict
from smartalbum.web.i18n import current_language

PROBLEM_MIMETYPE = "application/problem+json"
#: Seconds a client is told to wait (``Retry-After``) on every 503: a database or broker that
#: is down, a catalog that cannot be opened, a readiness check that failed. Clients and load
#: balancers retry instead of reading the answer as a bug.
RETRY_AFTER_S = 5
#: RFC 9110's phrase (Werkzeug still says "Unprocessable Entity").
_TITLES = {**HTTP_STATUS_CODES, 422: "Unprocessable Content"}

#: The titles a person may read (HTTP phrases, the domain errors' own titles), marked so that
#: ``make i18n`` puts them in the catalogs. A problem's title is answered in the request's
#: language (:func:`localized_title`); its ``code`` and ``detail`` stay as they are, so
#: programs keep matching on the code.
TRANSLATED_TITLES = (
    _l("Bad Request"), _l("Unauthorized"), _l("Forbidden"), _l("Not Found"),
    _l("Method Not Allowed"), _l("Not Acceptable"), _l("Conflict"), _l("Gone"),
    _l("Precondition Failed"), _l("Request Entity Too Large"), _l("Content Too Large"),
    _l("Unsupported Media Type"), _l("Requested Range Not Satisfiable"),
    _l("Range Not Satisfiable"), _l("Unprocessable Content"), _l("Unprocessable Entity"),
    _l("Too Many Requests"), _l("Internal Server Error"), _l("Not Implemented"),
    _l("Service Unavailable"), _l("Insufficient Storage"), _l("Error"),
    _l("Smart Album error"), _l("Model bundle cannot be loaded"), _l("Unknown head"),
    _l("Jobs error"), _l("Broker unavailable"), _l("Path not allowed"),
    _l("XMP sidecar cannot be merged"), _l("Places table unavailable"),
    _l("Thumbnail unavailable"), _l("Category error"), _l("Unreadable photo"),
    _l("Empty file"), _l("Not an image"), _l("Unsupported image format"),
    _l("Corrupt or truncated image"), _l("Image too large"), _l("File cannot be read"),
    _l("Not a regular file"), _l("File too large"), _l("Image too large to decode"),
    _l("Cannot organise"), _l("Bad layout"), _l("Unusable organise journal"),
    _l("Interrupted run"), _l("Sync failed"), _l("Face or person error"),
    _l("Photo unavailable"), _l("Invalid tag"),
)


def localized_title(title: str) -> tuple[str, str | None]:
    """``title`` in the language of the request being answered (web/i18n.py chose it), and
    that language's tag for ``Content-Language`` when it was translated. Outside a request,
    or in an app without Flask-Babel, the title as it is."""
    if not has_request_context() or "babel" not in current_app.extensions:
        return title, None
    translated = gettext(title)
    if translated == title:
        return title, None
    language = current_language()
    return translated, "zh-CN" if language == "zh" else language


class ProblemError(Exception):
    """Raise anywhere in a view to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.code = code
        self.headers = headers or {}
        self.extra = extra

    @classmethod
    def bad_parameter(cls, name: str, detail: str) -> ProblemError:
        """The one problem for a query parameter or body field that is not acceptable (400
        ``bad_parameter``, ``parameter`` names it): model validation and the few checks
        only a view can make (a cursor of other filters) answer the same."""
        return cls(400, "Bad Request", detail, code="bad_parameter", parameter=name)

    @classmethod
    def from_error(cls, error: SmartAlbumError, **extra: Any) -> ProblemError:
        """The problem for a domain error: its status and code. A photo error's title names
        the problem ("Empty file") and its detail drops the decoder's source prefix; other
        families' titles are generic ("Category error"), so theirs is the status's phrase."""
        if isinstance(error, PhotoError):
            d = photo_error_dict(error)
            return cls(error.status, d["title"], d["detail"], code=d["code"], **extra)
        # A concrete error with a title of its own ("Unknown head") keeps it; a family's
        # generic one ("Category error", on a class with subclasses) gives way to the
        # status's phrase.
        kind = type(error)
        own = kind.__dict__.get("title") if not kind.__subclasses__() else None
        title = own or _TITLES.get(error.status, "Error")
        more = {k: v for k, v in error.to_dict().items() if k not in ("code", "title", "detail")}
        return cls(error.status, title, error.detail, code=error.code, **more, **extra)

    @classmethod
    def from_photo_error(cls, error: PhotoError, filename: str | None = None) -> ProblemError:
        """The problem for a request whose single photo could not be read (its status
        lives on the error class: 415, or 400 empty, 413 too many pixels)."""
        return cls.from_error(error, filename=filename)


def problem_body(
    status: int, title: str, detail: str, *, code: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The problem document itself (no Flask needed: the serverless handler answers it too).
    ``type`` is a URN per error code, or about:blank for plain HTTP."""
    body: dict[str, Any] = {
        "type": f"urn:smartalbum:problem:{code}" if code else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if code:
        body["code"] = code
    body.update(extra)
    return body


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A problem response (see :func:`problem_body`), its title in the request's language."""
    title, language = localized_title(title)
    body = problem_body(status, title, detail, code=code, **extra)
    resp = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    if language:
        resp.headers["Content-Language"] = language
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    if status == 503 and "Retry-After" not in resp.headers:
        resp.headers["Retry-After"] = str(RETRY_AFTER_S)
    return resp


def database_problem(exc: BaseException) -> ProblemError | None:
    """The 503 for a database that cannot be reached or is busy (PostgreSQL down or
    restarting, a connection dropped, SQLite locked past its timeout); None for other
    errors (a bug stays a 500, a full disk is answered by the disk-full handlers)."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    if not isinstance(exc, DBAPIError) or is_disk_full(exc):
        return None
    if not isinstance(exc, OperationalError) and not exc.connection_invalidated:
        return None
    return ProblemError(
        503,
        "Database unavailable",
        f"The catalog database cannot be reached now ({type(exc.orig).__name__}); "
        f"try again in {RETRY_AFTER_S} s.",
        code="database_unavailable",
    )


def register_error_handlers(app: Flask) -> None:
    """Turn every exception into a problem: ours, Werkzeug's HTTP errors, and the rest."""

    @app.errorhandler(ProblemError)
    def _problem_error(exc: ProblemError) -> Response:
        return problem(
            exc.status, exc.title, exc.detail, code=exc.code, headers=exc.headers, **exc.extra
        )

    @app.errorhandler(SmartAlbumError)
    def _domain_error(exc: SmartAlbumError) -> Response:
        return _problem_error(ProblemError.from_error(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        # Keep protocol headers such as Allow (405) and Retry-After (429), not the HTML type.
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        detail = exc.description or exc.name
        if status == 413:
            detail = _too_large_detail(app)
        return problem(status, exc.name, detail, headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if is_disk_full(exc):
            # Wherever the write was (a thumbnail, a correction, a tag, a category, the
            # catalog): the request was fine, the disk is not.
            app.logger.warning("disk full: %s", exc)
            return _domain_error(
                DiskFullError("No space left on the server's disk: free some, then try again.")
            )
        unavailable = database_problem(exc)
        if unavailable is not None:
            app.logger.warning("database unavailable: %s", exc)
            return _problem_error(unavailable)
        # The traceback goes to the log, never to the client.
        app.logger.exception("unhandled error")
        return problem(500, "Internal Server Error", "The server could not handle this request.")


def _too_large_detail(app: Flask) -> str:
    limit = app.config.get("MAX_CONTENT_LENGTH")
    mb = f"{limit / (1024 * 1024):g} MB" if limit else "the size limit"
    return f"The request is larger than {mb} or has too many parts."
