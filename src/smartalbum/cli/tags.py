"""``smartalbum tags``, ``smartalbum tag add/remove`` and ``smartalbum search``.

Tagging runs in-process with a progress bar (the ``tags`` job kind does the same in the
background workers). Heavy imports stay inside the command bodies, so ``smartalbum --help``
does not pay for numpy or the text model.

Exit codes: 0 success; 2 bad usage (unknown photo, empty tag or query, no catalog).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from smartalbum.cli.context import AppContext, pass_app
from smartalbum.cli.options import (
    bundle_option,
    database_url_option,
    format_option,
    limit_option,
)


def _photo_id(session: Any, photo: str) -> int:
    """A photo given as catalog id or as the path of one of its copies."""
    from smartalbum.library.catalog import photo_id_for_path
    from smartalbum.library.schema import Photo

    if photo.isdigit() and session.get(Photo, int(photo)) is not None:
        return int(photo)
    found = photo_id_for_path(session, str(Path(photo).expanduser().absolute()))
    if found is None:
        raise click.UsageError(f"no photo {photo!r} in the catalog (give its id or a path)")
    return found


def _tags_line(tags: list[Any]) -> str:
    return ", ".join(f"{t.tag}{'*' if t.source == 'user' else ''} {t.confidence:.2f}" for t in tags)


@click.command("tags")
@click.argument("photo", required=False)
@click.option("--all", "all_", is_flag=True, help="Tag every photo that needs it.")
@click.option("--force", is_flag=True, help="With --all: re-tag photos already tagged.")
@format_option(["table", "json"])
@bundle_option(help="Model bundle (default: settings, else the shipped one).")
@database_url_option
@pass_app
def tags(
    app: AppContext,
    photo: str | None,
    all_: bool,
    force: bool,
    fmt: str,
    bundle: Path | None,
    database_url: str | None,
) -> None:
    """Show a photo's tags (PHOTO: id or path), or compute tags for the catalog (--all).

    Tags come from the stored embeddings (no photo is read again); tags you added or
    removed (smartalbum tag add/remove) are never changed by re-tagging. * = your tag.
    """
    from smartalbum.tags.store import photo_tags, removed_tags

    if bool(photo) == all_:
        raise click.UsageError("give either PHOTO or --all")
    factory = app.catalog(database_url)
    if all_:
        _tag_all(app, factory, bundle, force=force, fmt=fmt)
        return
    assert photo is not None
    with factory() as session:
        pid = _photo_id(session, photo)
        tags = photo_tags(session, [pid])[pid]
        removed = removed_tags(session, pid)
    if fmt == "json":
        sys.stdout.write(
            json.dumps({"photo_id": pid, "tags": [t.to_dict() for t in tags], "removed": removed})
            + "\n"
        )
        return
    click.echo(f"photo {pid}: {_tags_line(tags) or 'no tags'}")
    if removed:
        click.echo(f"removed by you: {', '.join(removed)}")


def _tag_all(app: AppContext, factory: Any, bundle: Path | None, *, force: bool, fmt: str) -> None:
    from tqdm import tqdm

    from smartalbum.tags.store import tag_catalog, tagger_for, untagged_ids

    engine = app.engine(bundle)
    tagger = tagger_for(engine.bundle)
    if tagger is None:
        raise click.UsageError(
            f"bundle {engine.bundle.name!r} has no ImageNet classifier (imagenet_fc.npz)"
        )
    version = engine.bundle.backbone_version
    with factory() as session:
        total = len(untagged_ids(session, tagger, version, force=force, limit=10**9))
    bar = tqdm(total=total, unit="photo", disable=not sys.stderr.isatty(), file=sys.stderr)
    done = tag_catalog(factory, tagger, version, force=force, on_progress=bar.update)
    bar.close()
    if fmt == "json":
        sys.stdout.write(json.dumps({"tagged": done, "vocabulary_version": tagger.version}) + "\n")
    else:
        click.echo(f"{done} photos tagged (vocabulary {tagger.version})")


@click.group("tag")
def tag() -> None:
    """Add or remove a photo's tags by hand (your edits win over automatic tags)."""


@tag.command("add")
@click.argument("photo")
@click.argument("tags", nargs=-1, required=True)
@database_url_option
@pass_app
def tag_add(app: AppContext, photo: str, tags: tuple[str, ...], database_url: str | None) -> None:
    """Add TAGS to PHOTO (id or path)."""
    from smartalbum.tags.store import add_tag, photo_tags

    with app.catalog(database_url)() as session:
        pid = _photo_id(session, photo)
        for name in tags:
            add_tag(session, pid, name)  # InvalidTagError: exit 2
        session.commit()
        click.echo(f"photo {pid}: {_tags_line(photo_tags(session, [pid])[pid])}")


@tag.command("remove")
@click.argument("photo")
@click.argument("tags", nargs=-1, required=True)
@database_url_option
@pass_app
def tag_remove(
    app: AppContext, photo: str, tags: tuple[str, ...], database_url: str | None
) -> None:
    """Remove TAGS from PHOTO; re-tagging will not bring them back."""
    from smartalbum.tags.store import photo_tags, remove_tag

    with app.catalog(database_url)() as session:
        pid = _photo_id(session, photo)
        missing = [t for t in tags if not remove_tag(session, pid, t)]  # InvalidTagError: 2
        session.commit()
        if missing:
            click.echo(f"not a tag of photo {pid}: {', '.join(missing)}", err=True)
        click.echo(f"photo {pid}: {_tags_line(photo_tags(session, [pid])[pid]) or 'no tags'}")


@click.command("search")
@click.argument("text")
@format_option(["table", "json"])
@limit_option(type=click.IntRange(1, 10_000), default=50)
@database_url_option
@pass_app
def search(app: AppContext, text: str, fmt: str, limit: int, database_url: str | None) -> None:
    """Find photos by words: tags, categories, places, people, camera and dates.

    Examples: "beach", "my dog", "Florence 2023", "May 2024", "Anna at the lake".
    Near words work too ("puppy" finds dogs) when the text model is installed.
    """
    from smartalbum.library.catalog import default_head
    from smartalbum.tags.search import service_from_settings

    factory = app.catalog(database_url)
    with factory() as session:
        head = default_head(session)
    service = service_from_settings(factory, app.settings, head=head)
    result = service.search(text, limit=limit)  # SearchQueryError: exit 2
    paths = _paths(factory, [h.photo_id for h in result.hits])
    if fmt == "json":
        out = result.to_dict()
        for item in out["results"]:
            item["path"] = paths.get(item["photo_id"])
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        return
    if result.message:
        click.echo(result.message, err=True)
    if result.unmatched:
        click.echo(f"nothing matched: {', '.join(result.unmatched)}", err=True)
    if not result.hits:
        click.echo("no photos found")
        return
    width = min(60, max(len(paths.get(h.photo_id) or "-") for h in result.hits))
    click.echo(f"{'photo':<{width}}  {'score':>5}  why")
    for h in result.hits:
        path = paths.get(h.photo_id) or "-"
        path = path if len(path) <= width else "…" + path[-(width - 1) :]
        click.echo(f"{path:<{width}}  {h.score:5.2f}  {'; '.join(h.why)}")
    click.echo(f"{result.total} photos match; {len(result.hits)} shown")


def _paths(factory: Any, ids: list[int]) -> dict[int, str]:
    """The first present copy of each photo."""
    from sqlalchemy import select

    from smartalbum.library.schema import FILE_PRESENT, File

    out: dict[int, str] = {}
    if not ids:
        return out
    with factory() as session:
        for pid, path in session.execute(
            select(File.photo_id, File.path)
            .where(File.photo_id.in_(ids), File.status == FILE_PRESENT)
            .order_by(File.id)
        ):
            out.setdefault(pid, path)
    return out
