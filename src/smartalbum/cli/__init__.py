"""The ``smartalbum`` command line: a thin adapter over the layers below.

Layout (see docs/architecture.md): ``options.py`` holds every shared option (declared once),
``context.py`` the :class:`AppContext` handed to commands with ``@pass_app`` (settings,
a lazy engine, a lazy catalog), ``lazy.py`` the group that imports a command's module only
when that command runs (``app.COMMANDS`` names them), ``errors.py`` the one handler that
turns a :class:`~smartalbum.errors.SmartAlbumError` into a message and its exit code. Each
command group lives in a module of its own here; no module outside ``smartalbum.cli``
imports it.

Exit codes: 0 success; 1 some photos could not be read (the others were still handled) or
an operation failed; 2 bad usage or input.
"""

from __future__ import annotations

from smartalbum.cli.app import main

__all__ = ["main"]
