"""``smartalbum faces ...`` (scan, recluster, purge) and ``smartalbum people ...`` (list,
name, merge, move, reject, born, photos).

Scanning runs in this process with a progress bar (``--background`` hands it to the workers
as a ``faces`` job instead). Corrections are single transactions. Typed errors
(:class:`~smartalbum.faces.errors.FaceError`) reach the top group's handler: a message and
exit code 2 (bad input: unknown person or face) or 1 (faces switched off).
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from smartalbum.cli.context import AppContext, pass_app
from smartalbum.cli.options import (
    background_option,
    database_url_option,
    format_option,
    json_option,
)


def _person_line(d: dict[str, Any]) -> str:
    name = d["name"] or "(unnamed)"
    born = f"  born {d['birth_date']}" if d["birth_date"] else ""
    return f"{d['id']:>5}  {name:<28} {d['faces']:>5} face(s) in {d['photos']} photo(s){born}"


@click.group("faces")
def faces() -> None:
    """Detect faces in the catalog's photos and group them into people (all local)."""


@faces.command("scan")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--all", "scan_all", is_flag=True, help="Every photo of the catalog.")
@click.option("--rescan", is_flag=True, help="Scan again photos of an older detector.")
@background_option(help="Submit a `faces` job and print its id.")
@json_option(help="Print the summary as JSON.")
@database_url_option
@pass_app
def scan(
    app: AppContext,
    paths: tuple[Path, ...],
    scan_all: bool,
    rescan: bool,
    background: bool,
    as_json: bool,
    database_url: str | None,
) -> None:
    """Find faces in indexed photos (under PATHS, or --all) not scanned yet."""
    from tqdm import tqdm

    from smartalbum.faces.service import (
        FaceScanner,
        pending_photos,
        photo_ids_for_paths,
        thumbnail_dir,
    )

    if not paths and not scan_all:
        raise click.UsageError("give PATHS (indexed folders or files) or --all")
    settings = app.settings
    factory = app.catalog(database_url)
    resolved = [str(p.expanduser().resolve()) for p in paths]
    if background:
        from smartalbum.jobs.submit import submit_job

        params: dict[str, Any] = {"paths": resolved, "rescan": rescan}
        click.echo(submit_job(settings, factory, "faces", params))
        return
    scanner = FaceScanner(factory, settings.faces, thumbnails=thumbnail_dir(settings.data_dir))
    with factory() as s:
        todo = pending_photos(s, rescan=rescan)
        if resolved:
            wanted = set(photo_ids_for_paths(s, resolved))
            todo = [p for p in todo if p in wanted]
    bar = tqdm(total=len(todo), unit="photo", file=sys.stderr, disable=not sys.stderr.isatty())
    try:
        summary = scanner.scan(todo, rescan=rescan, progress=bar.update)
    finally:
        bar.close()
    for item, code, message in summary.errors:
        click.echo(f"{item}: {code}: {message}", err=True)
    d = summary.to_dict()
    if as_json:
        click.echo(json.dumps(d))
    else:
        click.echo(
            f"scanned {d['photos']} photo(s): {d['faces']} face(s), {d['assigned']} put "
            f"with a person, {d['new_people']} new people, {d['errors']} error(s)"
        )
    if summary.errors:
        sys.exit(1)


@faces.command("recluster")
@json_option(help=None)
@database_url_option
@pass_app
def recluster_cmd(app: AppContext, as_json: bool, database_url: str | None) -> None:
    """Re-group every face the user did not place; corrections are kept."""
    from smartalbum.faces.errors import FacesDisabledError
    from smartalbum.faces.people import recluster

    settings = app.settings.faces
    if not settings.enabled:
        raise FacesDisabledError("face processing is switched off (SMARTALBUM_FACES__ENABLED)")
    factory = app.catalog(database_url)
    summary = recluster(
        factory, threshold=settings.match_threshold, min_cluster=settings.min_cluster
    )
    d = summary.to_dict()
    click.echo(json.dumps(d) if as_json else " ".join(f"{k}={v}" for k, v in d.items()))


@faces.command("purge")
@click.option("--yes", is_flag=True, help="Do not ask.")
@database_url_option
@pass_app
def purge_cmd(app: AppContext, yes: bool, database_url: str | None) -> None:
    """Delete every face, person, name and correction from the catalog (photos stay)."""
    from smartalbum.faces.service import purge_all

    if not yes:
        click.confirm("Delete all face data (faces, people, names, corrections)?", abort=True)
    counts = purge_all(app.catalog(database_url), app.settings.data_dir)
    click.echo("deleted " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@click.group("people", invoke_without_command=True)
@format_option(
    ["table", "json"],
    help="json: one object per person, with its faces (photo path, box, score).",
)
@click.option("--empty", is_flag=True, help="Also people left without faces.")
@database_url_option
@click.pass_context
@pass_app
def people(
    app: AppContext, ctx: click.Context, fmt: str, empty: bool, database_url: str | None
) -> None:
    """List people with their faces; subcommands correct them."""
    app.database_url = database_url  # the catalog of the subcommands too
    if ctx.invoked_subcommand is not None:
        return
    from smartalbum.faces import people as ppl

    with app.catalog()() as s:
        rows = ppl.list_people(s, include_empty=empty)
        if fmt == "json":
            for d in rows:
                d["faces_list"] = [f.to_dict() for f in ppl.faces_of_person(s, d["id"])]
                click.echo(json.dumps(d))
            return
        for d in rows:
            click.echo(_person_line(d))
            for f in ppl.faces_of_person(s, d["id"], limit=5):
                x, y, w, h = f.box
                click.echo(
                    f"{'':7}face {f.id:<6} {f.path or f.sha256[:12]}  "
                    f"box {x:.3f},{y:.3f},{w:.3f},{h:.3f}  score {f.score:.2f}"
                )
        unassigned = len(ppl.faces_of_person(s, None))
    if not rows:
        click.echo("no people yet (run `smartalbum faces scan --all`)")
    if unassigned:
        click.echo(f"{unassigned} face(s) not with anybody yet")


@people.command("name")
@click.argument("person")
@click.argument("name")
@pass_app
def name_cmd(app: AppContext, person: str, name: str) -> None:
    """Name PERSON (id or current name); its faces are confirmed."""
    from smartalbum.faces import people as ppl
    from smartalbum.library.db import session_scope

    with session_scope(app.catalog()) as s:
        p = ppl.name_person(s, ppl.resolve_person(s, person), name)
        click.echo(f"person {p.id} is {p.name}")


@people.command("merge")
@click.argument("keep")
@click.argument("others", nargs=-1, required=True)
@pass_app
def merge_cmd(app: AppContext, keep: str, others: tuple[str, ...]) -> None:
    """Merge OTHERS into KEEP (they were one person)."""
    from smartalbum.faces import people as ppl
    from smartalbum.library.db import session_scope

    with session_scope(app.catalog()) as s:
        target = ppl.resolve_person(s, keep)
        merged = ppl.merge_people(s, target, [ppl.resolve_person(s, o) for o in others])
        click.echo(f"merged into person {merged.id} ({merged.name or 'unnamed'})")


@people.command("move")
@click.argument("face_ids", nargs=-1, required=True, type=int)
@click.option("--to", "to", default=None, help="Person (id or name); default: a new person.")
@pass_app
def move_cmd(app: AppContext, face_ids: tuple[int, ...], to: str | None) -> None:
    """Move faces to another person (they never go back to the one they left)."""
    from smartalbum.faces import people as ppl
    from smartalbum.library.db import session_scope

    with session_scope(app.catalog()) as s:
        target = ppl.resolve_person(s, to) if to else None
        p = ppl.move_faces(s, face_ids, target)
        click.echo(f"moved {len(set(face_ids))} face(s) to person {p.id}")


@people.command("reject")
@click.argument("person")
@click.argument("face_ids", nargs=-1, required=True, type=int)
@pass_app
def reject_cmd(app: AppContext, person: str, face_ids: tuple[int, ...]) -> None:
    """Not this person: FACE_IDS never belong to PERSON again."""
    from smartalbum.faces import people as ppl
    from smartalbum.library.db import session_scope

    with session_scope(app.catalog()) as s:
        n = ppl.reject_faces(s, face_ids, ppl.resolve_person(s, person))
        click.echo(f"{n} face(s) rejected")


@people.command("born")
@click.argument("person")
@click.argument("birth_date", metavar="YYYY-MM-DD|none")
@pass_app
def born_cmd(app: AppContext, person: str, birth_date: str) -> None:
    """Set PERSON's birth date: earlier photos never show them."""
    from smartalbum.faces import people as ppl
    from smartalbum.library.db import session_scope

    try:
        born = None if birth_date.lower() == "none" else date.fromisoformat(birth_date)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD or none", param_hint="BIRTH_DATE") from None
    with session_scope(app.catalog()) as s:
        freed = ppl.set_birth_date(s, ppl.resolve_person(s, person), born)
        click.echo(f"birth date set; {freed} earlier face(s) taken off")


@people.command("photos")
@click.argument("persons", nargs=-1, required=True)
@json_option(help="One JSON object per photo.")
@pass_app
def photos_cmd(app: AppContext, persons: tuple[str, ...], as_json: bool) -> None:
    """Photos of PERSON (and PERSON ...: photos showing all of them)."""
    from sqlalchemy import select

    from smartalbum.faces import people as ppl
    from smartalbum.library.schema import FILE_PRESENT, File, Photo

    with app.catalog()() as s:
        ids = ppl.photos_of(s, [ppl.resolve_person(s, p).id for p in persons])
        rows = []
        for start in range(0, len(ids), 500):
            rows += s.execute(
                select(Photo.id, Photo.sha256, Photo.taken_at, File.path)
                .join(File, File.photo_id == Photo.id)
                .where(Photo.id.in_(ids[start : start + 500]), File.status == FILE_PRESENT)
                .order_by(Photo.taken_at, Photo.id, File.id)
            ).all()
    seen: set[int] = set()
    for pid, sha, taken, path in rows:
        if pid in seen:
            continue
        seen.add(pid)
        if as_json:
            when = taken.isoformat() if taken else None
            click.echo(json.dumps({"id": pid, "sha256": sha, "taken_at": when, "path": path}))
        else:
            click.echo(path)
