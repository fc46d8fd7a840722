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

import click

from smartalbum.cli.context import AppContext, pass_app
from smartalbum.cli.errors import unknown_head_is_usage_error
from smartalbum.cli.options import (
    background_option,
    bundle_option,
    database_url_option,
    format_option,
    head_option,
    json_option,
    threads_option,
    workers_option,
)

EXIT_SOME_FAILED = 1


@click.group("db")
def db() -> None:
    """Manage the catalog database."""


@db.command("upgrade")
@database_url_option
@pass_app
def db_upgrade(app: AppContext, database_url: str | None) -> None:
    """Create the catalog or bring its schema up to date (safe to repeat).

    THE upgrade step of a new version on several machines: stop the workers, run this once
    (from the new version), then start web and workers of the new version. Exit 3 when the
    catalog is newer than this Smart Album.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from smartalbum.library.db import (
        check_schema_not_newer,
        current_revision,
        default_url,
        get_engine,
        head_revision,
        open_catalog,
        safe_url,
    )

    target = database_url or app.database_url or default_url(app.settings)
    try:
        before = check_schema_not_newer(get_engine(url=target))
        engine, _ = open_catalog(app.settings, url=target, auto_upgrade=True)
        after = current_revision(engine)
    except (SQLAlchemyError, OSError) as exc:
        raise click.UsageError(f"cannot open the catalog at {safe_url(target)}: {exc}") from exc
    where = safe_url(str(engine.url))
    if not before:
        click.echo(f"catalog {where} created at revision {after}")
    elif before == [after]:
        click.echo(f"catalog {where} at revision {after}: up to date")
    else:
        click.echo(f"catalog {where} upgraded from {', '.join(before)} to {after}")
    assert after == head_revision()


@db.command("check")
@database_url_option
@pass_app
def db_check(app: AppContext, database_url: str | None) -> None:
    """Say whether the catalog's schema matches this Smart Album, changing nothing.

    Exit 0: it matches; 1: it is older (run `smartalbum db upgrade`) or empty; 3: it is
    newer (install the newer Smart Album here).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from smartalbum.library.db import (
        HEAD_REVISION,
        check_schema_not_newer,
        default_url,
        get_engine,
        safe_url,
    )

    target = database_url or app.database_url or default_url(app.settings)
    try:
        found = check_schema_not_newer(get_engine(url=target))
    except (SQLAlchemyError, OSError) as exc:
        raise click.UsageError(f"cannot open the catalog at {safe_url(target)}: {exc}") from exc
    if found == [HEAD_REVISION]:
        click.echo(f"catalog at revision {HEAD_REVISION}: up to date")
        return
    shown = ", ".join(found) if found else "none (empty)"
    click.echo(
        f"catalog at revision {shown}; this version needs {HEAD_REVISION}: "
        "run `smartalbum db upgrade`"
    )
    sys.exit(1)


@click.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@workers_option(help="Parallel readers/decoders.")
@head_option(
    dest="heads",
    multiple=True,
    help="Head(s) to predict with (repeatable; default: every head of the bundle).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 512),
    default=None,
    help="Photos per model batch and per transaction (default: settings).",
)
@threads_option
@bundle_option
@click.option(
    "--strict", is_flag=True, help="Exit 1 when some files under PATHS could not be indexed."
)
@json_option(help="Print the summary as JSON.")
@background_option(help="Submit a job to the workers (`smartalbum worker`) and print its id.")
@click.option("--wait", is_flag=True, help="With --background: show the job's progress.")
@database_url_option
@pass_app
def index(
    app: AppContext,
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

    from smartalbum.imaging.files import explain_nothing_found
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
        from smartalbum.cli.jobs import run_background_index

        run_background_index(app, [str(p) for p in paths], list(heads) or None, wait)
        return
    engine = app.engine(bundle, threads)
    wanted = list(heads) or ([app.settings.model.head] if app.settings.model.head else None)
    with unknown_head_is_usage_error():
        for name in wanted or []:
            engine.head(name)
    factory = app.catalog(database_url)
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
        if not summary.scanned:  # say why: wrong folder, no photo extensions, hidden names
            click.echo(explain_nothing_found(paths, recursive=True), err=True)
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
        for note in summary.notes:  # what the after-index hooks did or suggest (faces, ...)
            click.echo(note)
    if strict and (summary.errors or summary.known_errors):
        sys.exit(EXIT_SOME_FAILED)


@click.command("errors")
@format_option(["table", "json"], help="json = one object per line.")
@database_url_option
@pass_app
def errors(app: AppContext, fmt: str, database_url: str | None) -> None:
    """List the files that could not be indexed, and why."""
    from smartalbum.library.catalog import list_index_errors

    with app.catalog(database_url)() as session:
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
