"""The CLI's one error handler: a typed error becomes ``error: <message>`` on stderr and
the error's own exit code; Click's own errors and exits pass through untouched."""

from __future__ import annotations

import click

from smartalbum.errors import EXIT_USAGE, SmartAlbumError


class CommandError(click.ClickException):
    """A SmartAlbumError as Click shows it (``Error: ...``), with the error's exit code."""

    def __init__(self, error: SmartAlbumError) -> None:
        super().__init__(error.detail)
        self.exit_code = error.exit_code
        self.error = error


def as_click_error(exc: SmartAlbumError) -> click.ClickException:
    """The Click exception for ``exc``: usage problems keep Click's usage-error shape."""
    if exc.exit_code == EXIT_USAGE:
        return click.UsageError(exc.detail)
    return CommandError(exc)
