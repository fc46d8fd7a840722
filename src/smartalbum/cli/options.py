"""Options shared by several commands: each is declared here once.

Every shared option is a decorator that can be used bare (``@bundle_option``) or called
for a command's own wording or parameter name (``@bundle_option(help=...)``,
``@head_option(dest="heads", multiple=True)``); the flag itself, its type and its default
live only here, so ``--bundle`` means the same thing in every command.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

Decorator = Callable[[Any], Any]


class SharedOption:
    """One option's declaration; applied bare, or called with overrides to get a variant."""

    def __init__(self, flag: str | tuple[str, ...], dest: str | None = None, **attrs: Any) -> None:
        self.flags = flag if isinstance(flag, tuple) else (flag,)  # ("-o", "--output")
        self.dest = dest
        self.attrs = attrs

    def __call__(self, f: Any = None, /, *, dest: str | None = None, **attrs: Any) -> Any:
        if callable(f):  # used bare: @bundle_option
            return self._decorator(None, {})(f)
        return self._decorator(dest, attrs)

    def _decorator(self, dest: str | None, attrs: dict[str, Any]) -> Decorator:
        name = dest or self.dest
        decls = (*self.flags, name) if name else self.flags
        merged = {**self.attrs, **attrs}
        if attrs.get("multiple") and "default" not in attrs:
            merged.pop("default", None)  # a repeatable option defaults to ()
        return click.option(*decls, **merged)


bundle_option = SharedOption(
    "--bundle",
    type=click.Path(path_type=Path),
    default=None,
    help="Model bundle directory (default: the shipped one).",
)

database_url_option = SharedOption(
    "--database-url",
    default=None,
    metavar="URL",
    help="Catalog database (default: SMARTALBUM_DATABASE_URL, else SQLite in the data dir).",
)

threads_option = SharedOption(
    "--threads",
    type=click.IntRange(0, 256),
    default=None,
    help="ONNX Runtime threads (default: SMARTALBUM_MODEL__THREADS; 0 = all cores).",
)

head_option = SharedOption(
    "--head", default=None, help="Head to use (default: the bundle's default head)."
)

#: ``--head`` of the commands over the catalog's labels (duplicates, review, trips, organize).
catalog_head_option: Decorator = head_option(
    help="Head whose predictions count (default: settings, the bundle's "
    "default head, else the head predicted most recently)."
)

workers_option = SharedOption(
    "--workers",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Parallel decoders.",
)

json_option = SharedOption("--json", "as_json", is_flag=True, help="Print the result as JSON.")

background_option = SharedOption(
    "--background", is_flag=True, help="Run as a job on the workers (`smartalbum worker`)."
)

limit_option = SharedOption("--limit", show_default=True)

layout_option = SharedOption(
    "--layout",
    default=None,
    help="Folders (and name) of the organised photos: {label} {year} {month} {day} {camera} "
    "{place} {name} {ext}.",
)

#: ``-o/--output``: a file to write (each command says which and whether it is required).
output_option = SharedOption(("-o", "--output"), type=click.Path(path_type=Path))

dry_run_option = SharedOption("--dry-run", is_flag=True, help="Print the plan; change nothing.")

_format = SharedOption("--format", "fmt", show_default=True, help="Output format.")


def format_option(
    choices: Sequence[str] = ("text", "json"), default: str | None = None, **attrs: Any
) -> Decorator:
    """``--format`` with these choices (the first is the default), passed as ``fmt``."""
    return _format(type=click.Choice(list(choices)), default=default or choices[0], **attrs)
