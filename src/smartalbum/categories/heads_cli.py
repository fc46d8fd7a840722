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

from smartalbum.config import get_settings


def _engine_and_root(bundle: Path | None):  # noqa: ANN202
    from smartalbum.cli.context import AppContext
    from smartalbum.model import user_heads

    return AppContext().engine(bundle), user_heads.directory(get_settings().data_dir)


def register(main: click.Group) -> None:
    """Attach ``head`` to the ``smartalbum`` group."""

    @main.group("head")
    def head() -> None:
        """Versions of the bundle's own heads learned from your corrections."""

    @head.command("versions")
    @click.argument("name")
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
    @click.option("--bundle", type=click.Path(path_type=Path), default=None)
    def versions(name: str, fmt: str, bundle: Path | None) -> None:
        """List NAME's versions (0 = the bundle's own) and which one is active."""
        from smartalbum.model import user_heads

        engine, root = _engine_and_root(bundle)
        try:
            found = user_heads.versions(root, engine.bundle, name)
        except KeyError as exc:
            raise click.UsageError(str(exc.args[0])) from exc
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
    @click.option("--bundle", type=click.Path(path_type=Path), default=None)
    @click.option("--database-url", default=None, help="Catalog database (default: settings).")
    def restore(name: str, version: int, bundle: Path | None, database_url: str | None) -> None:
        """Make VERSION of NAME the active head (0: the bundle's own) and re-sort the catalog."""
        from smartalbum.library.cli import open_catalog_for_cli
        from smartalbum.library.indexer import predict_missing
        from smartalbum.model import user_heads

        engine, root = _engine_and_root(bundle)
        try:
            user_heads.activate_version(root, engine.bundle, name, version)
        except KeyError as exc:
            raise click.UsageError(str(exc.args[0])) from exc
        engine.user_heads.refresh(force=True)
        engine.version = engine.bundle.version
        done = predict_missing(open_catalog_for_cli(database_url), engine, name)
        click.echo(f"{name}: version {version} is active; {done} photo(s) re-sorted")
