"""Options shared by several commands: each is declared here once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

Decorator = Callable[[Any], Any]

bundle_option: Decorator = click.option(
    "--bundle",
    type=click.Path(path_type=Path),
    default=None,
    help="Model bundle directory (default: the shipped one).",
)

database_url_option: Decorator = click.option(
    "--database-url",
    default=None,
    metavar="URL",
    help="Catalog database (default: SMARTALBUM_DATABASE_URL, else SQLite in the data dir).",
)

threads_option: Decorator = click.option(
    "--threads",
    type=click.IntRange(0, 256),
    default=None,
    help="ONNX Runtime threads (default: SMARTALBUM_MODEL__THREADS; 0 = all cores).",
)

head_option: Decorator = click.option(
    "--head", default=None, help="Head to use (default: the bundle's default head)."
)


def format_option(
    choices: Sequence[str] = ("text", "json"), default: str | None = None
) -> Decorator:
    """``--format`` with these choices (the first is the default), passed as ``fmt``."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=default or choices[0],
        show_default=True,
        help="Output format.",
    )
