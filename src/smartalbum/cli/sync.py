"""``smartalbum sync REMOTE:PATH``: pull photos from any rclone remote, index, push back.

Exit codes: 0 success; 1 the organised copy could not be staged; 2 bad usage (malformed
REMOTE:PATH, bad options); 3 rclone is not installed; 4 rclone failed (unknown remote,
unreachable, refused, no such folder) — each the ``exit_code`` of its
:class:`~smartalbum.sync.rclone.SyncError`. Indexing itself follows ``smartalbum index``
(unreadable photos are listed by ``smartalbum errors``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from smartalbum.cli.context import AppContext, pass_app
from smartalbum.cli.errors import CommandError
from smartalbum.cli.options import (
    background_option,
    database_url_option,
    dry_run_option,
    layout_option,
)
from smartalbum.errors import EXIT_FAILURE


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
@layout_option(help="Folder layout of the organised copy (as `smartalbum organize --layout`).")
@dry_run_option(help="Show what would be copied; download, index and upload nothing.")
@click.option("--no-index", is_flag=True, help="Only pull; do not index the mirror.")
@background_option(help="Index through the job workers (`smartalbum worker`) instead of here.")
@database_url_option
@click.pass_context
@pass_app
def sync(
    app: AppContext,
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

    from smartalbum.sync.rclone import Rclone, mirror_for, parse_remote

    source = parse_remote(remote)  # BadRemoteError: exit 2
    dest = parse_remote(push_dest) if push_dest else None
    s = app.settings
    target = mirror or mirror_for(source, s.sync.mirror_root or (s.data_dir / "mirror"))
    if layout is not None:
        from smartalbum.organize import OrganizeError, validate_layout

        try:
            validate_layout(layout)
        except OrganizeError as exc:  # a bad option here, whatever organize's own code
            raise click.UsageError(str(exc)) from exc
    rclone = Rclone.from_settings()  # RcloneMissingError: exit 3

    tty = sys.stderr.isatty()
    bar = tqdm(total=0, unit="B", unit_scale=True, disable=not tty, file=sys.stderr, desc="pull")

    def on_progress(p) -> None:  # noqa: ANN001
        bar.total = p.total_bytes
        bar.n = p.bytes
        bar.set_postfix(files=f"{p.transfers}/{p.total_transfers}")
        bar.refresh()

    try:
        pulled = rclone.pull(source, target, dry_run=dry_run, on_progress=on_progress)
    finally:
        bar.close()  # RemoteError: exit 4
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
        from smartalbum.cli.catalog import index

        kwargs: dict[str, Any] = {"paths": (target,), "background": background}
        if database_url:
            kwargs["database_url"] = database_url
        ctx.invoke(index, **kwargs)

    if dest is not None:
        _push(app, rclone, target, dest, layout, database_url)


def _push(
    app: AppContext,
    rclone: Any,
    mirror: Path,
    dest: Any,
    layout: str | None,
    database_url: str | None,
) -> None:
    from smartalbum.organize import OrganizeError
    from smartalbum.sync.push import STAGING_EXCLUDES, stage_organised
    from smartalbum.sync.rclone import mirror_for

    staging = mirror_for(dest, app.settings.data_dir / "sync" / "organised")
    try:
        staged = stage_organised(app.catalog(database_url), mirror, staging, layout=layout)
    except (OrganizeError, OSError) as exc:  # staging failed: exit 1, not a usage error
        raise CommandError(str(exc), EXIT_FAILURE) from exc
    click.echo(
        f"organised {staged.photos} photos in {staging}: {staged.linked} new, "
        f"{staged.skipped} already there" + (f", {staged.failed} failed" if staged.failed else "")
    )
    pushed = rclone.push(staging, dest, exclude=STAGING_EXCLUDES)  # RemoteError: exit 4
    click.echo(f"pushed {len(pushed.copied)} files to {dest}")
