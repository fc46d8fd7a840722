"""Organise's errors: the request or journal refused (a usage error), the run stopped.

Per-photo problems are not errors of the run: they are ``OSError``s (:class:`SourceChangedError`
among them) that the executor journals as ``failed`` before going on with the next photo.
"""

from __future__ import annotations

from smartalbum import errors
from smartalbum.errors import EXIT_USAGE, SmartAlbumError


class OrganizeError(SmartAlbumError):
    """A request organise cannot carry out (bad mode, an unusable journal): the CLI's usage
    error (exit 2) and the API's 400, as before the package had its own error types."""

    code = "organize_error"
    title = "Cannot organise"
    status = 400
    exit_code = EXIT_USAGE


class LayoutError(OrganizeError):
    """A ``--layout`` with an unknown placeholder or a path that leaves the target."""

    code = "bad_layout"
    title = "Bad layout"


class JournalError(OrganizeError):
    """A journal that cannot be resumed or rolled back: missing, not ours, in use, undone."""

    code = "bad_journal"
    title = "Unusable organise journal"


class InterruptedRunError(OrganizeError):
    """A plain run into a folder where an earlier run was interrupted (its journal and
    hidden ``.part`` files are still there): ``--resume`` or ``--rollback`` it first."""

    code = "interrupted_run"
    title = "Interrupted run"


class DiskFullError(errors.DiskFullError, OrganizeError):
    """The target filled up mid-run; the journal lets ``--resume`` finish once there is room
    (the one disk-full error: code ``disk_full``, exit 1, HTTP 507)."""


class SourceChangedError(OSError):
    """The source's bytes no longer match the catalog's SHA-256 (edited since indexing);
    raised as ``SourceChangedError(errno.EIO, message, path)``."""
