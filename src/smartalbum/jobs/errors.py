"""The job system's typed errors: a full disk, a broker that cannot take a message, a path
outside the configured roots. Each carries its HTTP status and CLI exit code, so the web's
one problem handler and the CLI's top group answer them without a mapping of their own."""

from __future__ import annotations

from smartalbum.errors import EXIT_USAGE, DiskFullError, SmartAlbumError, is_disk_full

__all__ = ["BrokerUnavailable", "DiskFull", "JobsError", "PathNotAllowed", "is_disk_full"]


class JobsError(SmartAlbumError):
    """Base of the job system's errors."""

    code = "jobs_error"
    title = "Jobs error"
    status = 503


class DiskFull(DiskFullError, JobsError):
    """No space left where the job had to be written (catalog, broker, spool)."""


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
