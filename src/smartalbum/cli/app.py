"""The top ``smartalbum`` group: lazy commands and the one error handler."""

from __future__ import annotations

from typing import Any

import click

from smartalbum import __version__
from smartalbum.cli.errors import as_click_error
from smartalbum.cli.lazy import LazyGroup
from smartalbum.errors import SmartAlbumError
from smartalbum.features import load_features

# Command name -> "module:attribute"; each module is imported only when its command runs.
COMMANDS: dict[str, str] = {
    "classify": "smartalbum.cli.classify:classify",
    "info": "smartalbum.cli.classify:info",
}


class AppGroup(LazyGroup):
    """The top group: any SmartAlbumError a command raises ends as one line and its code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SmartAlbumError as exc:
            raise as_click_error(exc) from exc


@click.group(
    cls=AppGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="smartalbum")
def main() -> None:
    """Smart Album: sort photos into categories, offline, on a plain CPU."""
    load_features()  # the features' after-index hooks (tags, faces) for every command


def _register_plugins() -> None:
    """Attach the commands still registered by the sub-packages (being moved into cli/)."""
    from smartalbum.categories.cli import register as register_categories
    from smartalbum.categories.heads_cli import register as register_heads
    from smartalbum.faces.cli import register as register_faces
    from smartalbum.jobs.cli import register as register_jobs
    from smartalbum.library.cli import register as register_library
    from smartalbum.library.cli_tools import register as register_library_tools
    from smartalbum.sync.cli import register as register_sync
    from smartalbum.tags.cli import register as register_tags
    from smartalbum.training.cli import register as register_training
    from smartalbum.web.server import register as register_web

    for register in (
        register_training,
        register_web,
        register_library,
        register_library_tools,
        register_jobs,
        register_tags,
        register_categories,
        register_heads,
        register_sync,
        register_faces,
    ):
        register(main)


_register_plugins()
