"""The job system's typed errors: a full disk, a broker that cannot take a message, a path
outside the configured roots. Each carries its HTTP status and CLI exit code, so the web's
one problem handler and the CLI's top group answer them without a mapping of their own."""

from __future__ import annotations

import errno
import sqlite3

from smartalbum.errors import EXIT_USAGE, SmartAlbumError


class JobsError(SmartAlbumError):
    """Base of the job system's errors."""

    code = "jobs_error"
    title = "Jobs error"
    status = 503


class DiskFull(JobsError):
    """No space left where the job had to be written (catalog, broker, spool)."""

    code = "disk_full"
    title = "Insufficient Storage"
    status = 507


class BrokerUnavailable(JobsError):
    """The broker refused the job's message; the job was marked failed, not left queued."""

    code = "broker_unavailable"
    title = "Broker unavailable"
    status = 503


class PathNotAllowed(JobsError):
    """A path (source or destination, symlinks resolved) outside SMARTALBUM_JOBS__ROOTS."""

    code = "path_not_allowed"
    title = "Path not allowed"
    status = 400
    exit_code = EXIT_USAGE


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
