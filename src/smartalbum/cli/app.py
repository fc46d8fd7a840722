"""The top ``smartalbum`` group: lazy commands and the one error handler."""

from __future__ import annotations

from typing import Any

import click

from smartalbum import __version__
from smartalbum.cli.errors import adopt, as_click_error, disk_full_error
from smartalbum.cli.lazy import LazyGroup
from smartalbum.errors import SmartAlbumError
from smartalbum.features import load_features

# Command name -> "module:attribute"; each module is imported only when its command runs.
COMMANDS: dict[str, str] = {
    # serving
    "classify": "smartalbum.cli.classify:classify",
    "info": "smartalbum.cli.classify:info",
    "serve": "smartalbum.cli.serve:serve",
    # the catalog
    "db": "smartalbum.cli.catalog:db",
    "index": "smartalbum.cli.catalog:index",
    "errors": "smartalbum.cli.catalog:errors",
    "duplicates": "smartalbum.cli.library:duplicates",
    "review": "smartalbum.cli.library:review",
    "trips": "smartalbum.cli.library:trips",
    "organize": "smartalbum.cli.organize:organize",
    "sync": "smartalbum.cli.sync:sync",
    # background jobs
    "worker": "smartalbum.cli.jobs:worker",
    "jobs": "smartalbum.cli.jobs:jobs",
    # feature packages
    "tags": "smartalbum.cli.tags:tags",
    "tag": "smartalbum.cli.tags:tag",
    "search": "smartalbum.cli.tags:search",
    "category": "smartalbum.cli.categories:category",
    "retrain": "smartalbum.cli.categories:retrain",
    "head": "smartalbum.cli.heads:head",
    "faces": "smartalbum.cli.faces:faces",
    "people": "smartalbum.cli.faces:people",
    # training (torch is imported inside the commands' bodies)
    "dataset": "smartalbum.cli.training:dataset",
    "train": "smartalbum.cli.training:train",
    "evaluate": "smartalbum.cli.training:evaluate",
    "export": "smartalbum.cli.training:export",
}


class AppGroup(LazyGroup):
    """The top group: any SmartAlbumError a command raises ends as one line and its code."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        return adopt(command) if command is not None else None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SmartAlbumError as exc:  # raised outside any command's own context
            raise as_click_error(exc) from exc
        except Exception as exc:
            full = disk_full_error(exc)
            if full is None:
                raise
            raise full from exc


@click.group(
    cls=AppGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="smartalbum")
def main() -> None:
    """Smart Album: sort photos into categories, offline, on a plain CPU."""
    load_features()  # the features' after-index hooks (tags, faces) for every command
