"""``smartalbum sync REMOTE:PATH``: pull photos from any rclone remote, index, push back.

Exit codes: 0 success; 1 the organised copy could not be staged; 2 bad usage (malformed REMOTE:PATH, bad options); 3 rclone is not
installed; 4 rclone failed (unknown remote, unreachable, refused, no such folder). Indexing
itself follows ``smartalbum index`` (unreadable photos are listed by ``smartalbum errors``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from smartalbum.config import get_settings


def _fail(exc: Exception, code: int) -> None:
    click.echo(f"Error: {exc}", err=True)
    raise SystemExit(code)


def _mirror_root() -> Path:
    s = get_settings()
    return s.sync.mirror_root or (s.data_dir / "mirror")


@click.command("sync")
@click.argument("remote", metavar="REMOTE:PATH")
@click.option(
    "--mirror",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Local mirror folder (default: MIRROR_ROOT/<remote>/<path>, see settings).",
)
@click.option(
    "--push-organised",
    "push_dest",
    metavar="REMOTE:PATH",
    default=None,
    help="Afterwards, upload a copy organised by label and date to this remote path.",
)
@click.option(
    "--layout",
    default=None,
    help="Folder layout of the organised copy (as `smartalbum organize --layout`).",
)
@click.option(
    "--dry-run", is_flag=True, help="Show what would be copied; download, index and upload nothing."
)
@click.option("--no-index", is_flag=True, help="Only pull; do not index the mirror.")
@click.option(
    "--background",
    is_flag=True,
    help="Index through the job workers (`smartalbum worker`) instead of here.",
)
@click.option(
    "--database-url",
    default=None,
    metavar="URL",
    help="Catalog database (default: SMARTALBUM_DATABASE_URL, else SQLite).",
)
@click.pass_context
def sync_cmd(
    ctx: click.Context,
    remote: str,
    mirror: Path | None,
    push_dest: str | None,
    layout: str | None,
    dry_run: bool,
    no_index: bool,
    background: bool,
    database_url: str | None,
) -> None:
    """Pull new and changed photos from REMOTE:PATH into a local mirror and index them.

    REMOTE is a remote configured with `rclone config` (Google Photos, S3, Dropbox,
    OneDrive, WebDAV, SFTP, ...). Only photo files are copied; nothing local is ever
    deleted, and a second run copies only what changed.
    """
    from tqdm import tqdm

    from smartalbum.sync.rclone import (
        BadRemoteError,
        Rclone,
        RcloneMissingError,
        RemoteError,
        mirror_for,
        parse_remote,
    )

    try:
        source = parse_remote(remote)
        dest = parse_remote(push_dest) if push_dest else None
        target = mirror or mirror_for(source, _mirror_root())
    except BadRemoteError as exc:
        raise click.UsageError(str(exc)) from exc
    if layout is not None:
        from smartalbum.organize import OrganizeError, validate_layout

        try:
            validate_layout(layout)
        except OrganizeError as exc:
            raise click.UsageError(str(exc)) from exc
    try:
        rclone = Rclone.from_settings()
    except RcloneMissingError as exc:
        _fail(exc, exc.exit_code)

    tty = sys.stderr.isatty()
    bar = tqdm(total=0, unit="B", unit_scale=True, disable=not tty, file=sys.stderr, desc="pull")

    def on_progress(p) -> None:  # noqa: ANN001
        bar.total = p.total_bytes
        bar.n = p.bytes
        bar.set_postfix(files=f"{p.transfers}/{p.total_transfers}")
        bar.refresh()

    try:
        pulled = rclone.pull(source, target, dry_run=dry_run, on_progress=on_progress)
    except RemoteError as exc:
        _fail(exc, exc.exit_code)
    finally:
        bar.close()
    verb = "would copy" if dry_run else "copied"
    click.echo(
        f"{source}: {verb} {len(pulled.copied)} new"
        + (f", {len(pulled.replaced)} updated" if pulled.replaced else "")
        + f" photos ({pulled.bytes / 1e6:.1f} MB) into {target}"
    )
    if dry_run:
        for name in pulled.copied:
            click.echo(f"  {name}")
        if dest is not None:
            click.echo(f"dry run: would organise the mirror and upload it to {dest}")
        click.echo("dry run: nothing was downloaded, indexed or uploaded")
        return

    if not no_index:
        index = ctx.find_root().command.get_command(ctx, "index")
        if index is None:  # pragma: no cover - the library plugin is always registered
            raise click.UsageError("the index command is not available")
        kwargs = {"paths": (target,), "background": background}
        if database_url:
            kwargs["database_url"] = database_url
        ctx.invoke(index, **kwargs)

    if dest is not None:
        _push(rclone, target, dest, layout, database_url)


def _push(rclone, mirror: Path, dest, layout: str | None, database_url: str | None) -> None:  # noqa: ANN001
    from smartalbum.library.cli import open_catalog_for_cli
    from smartalbum.sync.push import STAGING_EXCLUDES, stage_organised
    from smartalbum.sync.rclone import RemoteError, mirror_for

    staging = mirror_for(dest, get_settings().data_dir / "sync" / "organised")
    factory = open_catalog_for_cli(database_url)
    from smartalbum.organize import OrganizeError

    try:
        staged = stage_organised(factory, mirror, staging, layout=layout)
    except (OrganizeError, OSError) as exc:
        _fail(exc, 1)
    click.echo(
        f"organised {staged.photos} photos in {staging}: {staged.linked} new, "
        f"{staged.skipped} already there" + (f", {staged.failed} failed" if staged.failed else "")
    )
    try:
        pushed = rclone.push(staging, dest, exclude=STAGING_EXCLUDES)
    except RemoteError as exc:
        _fail(exc, exc.exit_code)
    click.echo(f"pushed {len(pushed.copied)} files to {dest}")


def register(cli: click.Group) -> None:
    """Add ``smartalbum sync`` to the main group."""
    cli.add_command(sync_cmd)
