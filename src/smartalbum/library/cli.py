"""Catalog commands: ``smartalbum db upgrade``, ``smartalbum index``, ``smartalbum errors``.

Exit codes (as ``smartalbum classify``): 0 success — files that cannot be read are
recorded and listed by ``smartalbum errors`` but do not fail the run; 1 with ``--strict``
when some files under the indexed paths could not be indexed; 2 bad usage (a path that
does not exist, an unknown head, an unreadable bundle, an unreachable database).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from smartalbum.config import get_settings

EXIT_SOME_FAILED = 1

database_url_option = click.option(
    "--database-url",
    default=None,
    metavar="URL",
    help="Catalog database (default: SMARTALBUM_DATABASE_URL, else SQLite in the data dir).",
)


def _open(url: str | None):
    """Engine + session factory with the schema upgraded; database problems are usage errors."""
    from sqlalchemy.exc import SQLAlchemyError

    from smartalbum.library.db import default_url, open_catalog

    target = url or default_url(get_settings())
    try:
        return open_catalog(url=target)
    except (SQLAlchemyError, OSError) as exc:
        raise click.UsageError(f"cannot open the catalog at {_safe(target)}: {exc}") from exc


def open_catalog_for_cli(url: str | None) -> Any:
    """The catalog's session factory for a command (every package's CLI uses this):
    ``url`` or the configured catalog, schema upgraded, problems as click usage errors."""
    return _open(url)[1]


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def register(cli: click.Group) -> None:
    """Attach the catalog commands to the ``smartalbum`` group."""

    @cli.group("db")
    def db_group() -> None:
        """Manage the catalog database."""

    @db_group.command("upgrade")
    @database_url_option
    def db_upgrade(database_url: str | None) -> None:
        """Create the catalog or bring its schema up to date (safe to repeat)."""
        from smartalbum.library.db import current_revision

        engine, _ = _open(database_url)
        click.echo(f"catalog {_safe(str(engine.url))} at revision {current_revision(engine)}")

    @cli.command("index")
    @click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
    @click.option(
        "--workers",
        type=click.IntRange(1, 64),
        default=2,
        show_default=True,
        help="Parallel readers/decoders.",
    )
    @click.option(
        "--head",
        "heads",
        multiple=True,
        help="Head(s) to predict with (repeatable; default: every head of the bundle).",
    )
    @click.option(
        "--batch-size",
        type=click.IntRange(1, 512),
        default=None,
        help="Photos per model batch and per transaction (default: settings).",
    )
    @click.option(
        "--threads",
        type=click.IntRange(0, 64),
        default=None,
        help="ONNX Runtime threads (default: settings; 0 = all cores).",
    )
    @click.option(
        "--bundle",
        type=click.Path(path_type=Path),
        default=None,
        help="Model bundle directory (default: the shipped one).",
    )
    @click.option(
        "--strict", is_flag=True, help="Exit 1 when some files under PATHS could not be indexed."
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
    @click.option(
        "--background",
        is_flag=True,
        help="Submit a job to the workers (`smartalbum worker`) and print its id.",
    )
    @click.option("--wait", is_flag=True, help="With --background: show the job's progress.")
    @database_url_option
    def index(
        paths: tuple[Path, ...],
        workers: int,
        heads: tuple[str, ...],
        batch_size: int | None,
        threads: int | None,
        bundle: Path | None,
        strict: bool,
        as_json: bool,
        background: bool,
        wait: bool,
        database_url: str | None,
    ) -> None:
        """Index photos under PATHS into the catalog (recursively, incrementally).

        Unchanged files are skipped without being read, moved files keep their photo,
        deleted files are marked missing; safe to interrupt and run again.
        """
        from tqdm import tqdm

        from smartalbum.cli.context import AppContext
        from smartalbum.library.indexer import Indexer

        for p in paths:
            if not p.exists():
                raise click.UsageError(f"no such file or directory: {p}")
        if background or wait:
            if database_url:
                raise click.UsageError(
                    "--background uses the workers' catalog: set SMARTALBUM_DATABASE_URL "
                    "for this command and the workers instead of --database-url"
                )
            from smartalbum.jobs.cli import run_background_index

            run_background_index([str(p) for p in paths], list(heads) or None, wait)
            return
        engine = AppContext().engine(bundle, threads)
        settings = get_settings()
        wanted = list(heads) or ([settings.model.head] if settings.model.head else None)
        try:
            for name in wanted or []:
                engine.head(name)
        except KeyError as exc:
            raise click.UsageError(str(exc.args[0])) from exc
        factory = open_catalog_for_cli(database_url)
        indexer = Indexer(factory, engine, heads=wanted, workers=workers, batch_size=batch_size)

        bar = None
        tty = sys.stderr.isatty()

        def on_plan(summary) -> None:  # noqa: ANN001
            nonlocal bar
            click.echo(
                f"{summary.scanned} photos found: {summary.unchanged} unchanged, "
                f"{summary.missing} missing, {summary.to_index} to index",
                err=True,
            )
            bar = tqdm(total=summary.to_index, unit="photo", disable=not tty, file=sys.stderr)

        def on_progress(n: int, summary) -> None:  # noqa: ANN001
            if bar is not None:
                bar.update(n)
                bar.set_postfix(
                    new=summary.new,
                    changed=summary.changed,
                    moved=summary.moved,
                    errors=summary.errors,
                )

        try:
            summary = indexer.run(paths, on_plan=on_plan, on_progress=on_progress)
        finally:
            if bar is not None:
                bar.close()
        if as_json:
            click.echo(json.dumps(summary.to_dict()))
        else:
            click.echo(summary.line())
            if summary.errors or summary.known_errors:
                click.echo("see `smartalbum errors` for the files that could not be indexed")
        if strict and (summary.errors or summary.known_errors):
            sys.exit(EXIT_SOME_FAILED)

    @cli.command("errors")
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        help="json = one object per line.",
    )
    @database_url_option
    def errors(fmt: str, database_url: str | None) -> None:
        """List the files that could not be indexed, and why."""
        from smartalbum.library.catalog import list_index_errors

        factory = open_catalog_for_cli(database_url)
        with factory() as session:
            rows = list_index_errors(session)
        if fmt == "json":
            for r in rows:
                click.echo(
                    json.dumps(
                        {
                            "path": r.path,
                            "code": r.code,
                            "message": r.message,
                            "when": r.created_at.isoformat() + "Z",
                        }
                    )
                )
            return
        if not rows:
            click.echo("no indexing errors")
            return
        width = min(60, max(len(r.path) for r in rows))
        for r in rows:
            path = r.path if len(r.path) <= width else "…" + r.path[-(width - 1) :]
            message = r.message.removeprefix(f"{r.path}: ")
            click.echo(f"{path:<{width}}  {r.code:<18} {r.created_at:%Y-%m-%d %H:%M}  {message}")
        click.echo(f"{len(rows)} file(s) could not be indexed")
