"""The CLI's one error handler: a typed error becomes ``Error: <message>`` on stderr and
the error's own exit code; Click's own errors and exits pass through untouched.

Commands let :class:`~smartalbum.errors.SmartAlbumError` propagate to the top group
(``app.AppGroup``), which calls :func:`as_click_error`. The two helpers below cover the
few failures that are not typed errors of the layers below: an unknown head (the model's
``KeyError``) and a bundle that cannot be read at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from smartalbum.errors import EXIT_FAILURE, EXIT_USAGE, DiskFullError, SmartAlbumError, is_disk_full


class CommandError(click.ClickException):
    """``Error: <message>`` on stderr and ``exit_code`` (Click shows no usage line)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def as_click_error(exc: SmartAlbumError, ctx: click.Context | None = None) -> click.ClickException:
    """The Click exception for ``exc``: usage problems keep Click's usage-error shape (with
    the command's usage line when ``ctx`` is the command's context)."""
    if exc.exit_code == EXIT_USAGE:
        return click.UsageError(exc.detail, ctx=ctx)
    return CommandError(exc.detail, exc.exit_code)


def disk_full_error(exc: BaseException) -> click.ClickException | None:
    """The one-line error for a full disk met anywhere below (a catalog write, a thumbnail,
    a head, a tag file: ENOSPC, SQLite's "disk is full", PostgreSQL's 53100), else None."""
    if isinstance(exc, click.ClickException) or not is_disk_full(exc):
        return None
    where = getattr(exc, "filename", None)
    detail = f" (writing {where})" if where else ""
    return as_click_error(DiskFullError(f"no space left on the disk{detail}; free some and retry"))


class ErrorContext(click.Context):
    """A command's context that turns a typed error into its Click error while the
    command's own context is still known, so a usage error shows that command's usage;
    a full disk, whatever raised it, is one line too."""

    def invoke(self, callback: Any, /, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().invoke(callback, *args, **kwargs)
        except SmartAlbumError as exc:
            raise as_click_error(exc, self) from exc
        except Exception as exc:
            full = disk_full_error(exc)
            if full is None:
                raise
            raise full from exc


def adopt(command: click.Command) -> click.Command:
    """Give ``command`` and every subcommand the :class:`ErrorContext`."""
    command.context_class = ErrorContext
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            adopt(sub)
    return command


@contextmanager
def usage_error_on(*types: type[Exception]) -> Iterator[None]:
    """Plain exceptions of the layers below that mean bad input here (a dataset folder
    that holds no photos, a path that does not exist): exit 2 with their message."""
    try:
        yield
    except types as exc:
        raise click.UsageError(str(exc)) from exc


@contextmanager
def unknown_head_is_usage_error() -> Iterator[None]:
    """``Engine.head``/``Bundle.head`` raise ``KeyError("no head 'x' ...")``: a usage error."""
    try:
        yield
    except KeyError as exc:
        raise click.UsageError(str(exc.args[0])) from exc


@contextmanager
def bundle_is_usage_error() -> Iterator[None]:
    """A bundle that cannot be read (missing, broken, unreadable files): exit 2 with
    ``cannot load model bundle: ...``, whichever way loading it failed."""
    from smartalbum.model.bundle import BundleError

    try:
        yield
    except (BundleError, OSError, ValueError) as exc:
        raise click.UsageError(f"cannot load model bundle: {exc}") from exc
