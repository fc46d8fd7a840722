"""The one base of Smart Album's typed errors.

Every failure a user can cause or meet (an unreadable photo, an unknown person, a bad
category name, a broken bundle, a failed sync) is a :class:`SmartAlbumError` subclass with a
stable ``code``, the HTTP ``status`` the API answers with and the ``exit_code`` the CLI exits
with. So the web layer needs one Flask handler (``web.problems``) and the CLI one top-level
handler, and neither parses messages or keeps its own table per feature.
"""

from __future__ import annotations

import errno
import sqlite3
from typing import Any, ClassVar

EXIT_FAILURE = 1
EXIT_USAGE = 2


class SmartAlbumError(Exception):
    """Base class: ``code`` is machine-readable and stable; ``title`` a short human summary.

    Subclasses set the class attributes; an instance may override ``status`` or
    ``exit_code`` through the constructor when one family spans several outcomes.
    """

    code: ClassVar[str] = "smartalbum_error"
    title: ClassVar[str] = "Smart Album error"
    status: int = 400
    exit_code: int = EXIT_FAILURE

    def __init__(
        self, message: str = "", *, status: int | None = None, exit_code: int | None = None
    ) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def detail(self) -> str:
        """The human-readable message (a problem document's ``detail``)."""
        return str(self) or self.title

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (code, title, detail)."""
        return {"code": self.code, "title": self.title, "detail": self.detail}


class DiskFullError(SmartAlbumError):
    """No space left where Smart Album had to write (catalog, broker, spool, organised
    copies): the request was fine, so a failure (exit 1, HTTP 507), never a usage error."""

    code = "disk_full"
    title = "Insufficient Storage"
    status = 507
    exit_code = EXIT_FAILURE


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` or anything in its cause/context chain means "no space left":
    ENOSPC/EDQUOT from the OS (kombu wraps it in a ChannelError), SQLite's "database or
    disk is full", PostgreSQL's SQLSTATE 53100."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc):
            return True
        if getattr(exc, "sqlstate", None) == "53100" or getattr(exc, "pgcode", None) == "53100":
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return False


class Cancelled(Exception):
    """The running job was cancelled: raised from a progress callback to unwind the work.

    Not a :class:`SmartAlbumError` on purpose: nobody caused a failure, and a handler that
    catches ``SmartAlbumError`` (to record a failed photo, say) must not swallow it. It lives
    here, the lowest layer, so the job runners (``jobs.kinds``, ``jobs.tasks``) and any lower
    code that reports progress raise and catch the one class.
    """
