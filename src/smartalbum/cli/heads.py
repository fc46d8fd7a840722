"""``smartalbum head versions|restore``: the user's versions of the bundle's own heads.

``smartalbum retrain`` adds a version each time it retrains ``album6``/``seed3`` from
corrections (active only when it was not worse); these commands list them and switch
between them — version 0 is the bundle's own head. Switching re-sorts the catalog from
stored embeddings (no photo is decoded).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click

from smartalbum.cli.context import AppContext, pass_app
from smartalbum.cli.errors import unknown_head_is_usage_error
from smartalbum.cli.options import bundle_option, database_url_option, format_option


@click.group("head")
def head() -> None:
    """Versions of the bundle's own heads learned from your corrections."""


@head.command("versions")
@click.argument("name")
@format_option(["table", "json"])
@bundle_option
@pass_app
def versions(app: AppContext, name: str, fmt: str, bundle: Path | None) -> None:
    """List NAME's versions (0 = the bundle's own) and which one is active."""
    from smartalbum.model import user_heads

    engine = app.engine(bundle)
    with unknown_head_is_usage_error():
        found = user_heads.versions(engine.user_heads.store, engine.bundle, name)
    if fmt == "json":
        click.echo(json.dumps([v.to_dict() for v in found]))
        return
    for v in found:
        when = (
            datetime.fromtimestamp(v.created_at, timezone.utc).strftime("%Y-%m-%d %H:%M")
            if v.created_at
            else "shipped"
        )
        after = v.report.get("after", {}).get("accuracy")
        fig = f"  held-back accuracy {after}" if after is not None else ""
        mark = "*" if v.active else " "
        click.echo(f"{mark} v{v.version:<3} {v.head_version}  {when}{fig}")


@head.command("restore")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=0))
@bundle_option
@database_url_option
@pass_app
def restore(
    app: AppContext, name: str, version: int, bundle: Path | None, database_url: str | None
) -> None:
    """Make VERSION of NAME the active head (0: the bundle's own) and re-sort the catalog."""
    from smartalbum.library.indexer import predict_missing
    from smartalbum.model import user_heads

    engine = app.engine(bundle)
    with unknown_head_is_usage_error():
        user_heads.activate_version(engine.user_heads.store, engine.bundle, name, version)
    engine.user_heads.refresh(force=True)
    engine.version = engine.bundle.version
    done = predict_missing(app.catalog(database_url), engine, name)
    click.echo(f"{name}: version {version} is active; {done} photo(s) re-sorted")


# `head list` / `head activate`: the names the deployment docs use for the same commands.
head.add_command(versions, "list")
head.add_command(restore, "activate")
