"""Library commands over the catalog: ``duplicates``, ``review``, ``trips``, ``organize``.

The logic lives in pure modules (duplicates, review, trips, organize, xmp) over catalog
records; this module only loads records, calls them and prints. ``--format json`` prints
one JSON object per line (as ``smartalbum classify``), the summary going to stderr.

Exit codes: 0 success; 1 ``organize`` left something undone (a failed photo, a rollback
conflict); 2 bad usage (unknown head, bad layout, unreadable journal, no catalog).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from smartalbum.config import get_settings
from smartalbum.library.cli import database_url_option, open_catalog_for_cli

EXIT_INCOMPLETE = 1

_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json = one object per line.",
)
_head_option = click.option(
    "--head",
    default=None,
    help="Head whose predictions count (default: settings, the bundle's "
    "default head, else the head predicted most recently).",
)


# --------------------------------------------------------------------------- catalog access


def default_head(session: Any, head: str | None = None) -> str | None:
    """The head whose labels count: given, else settings, else the bundle's default, else
    the head of the most recent prediction in the catalog (None when nothing is predicted)."""
    from sqlalchemy import select

    from smartalbum.library.schema import Prediction

    if head:
        return head
    settings = get_settings()
    if settings.model.head:
        return settings.model.head
    try:
        from smartalbum.model.bundle import Bundle

        return Bundle.load(settings.model.bundle).default_head
    except Exception:  # noqa: BLE001 - no usable bundle: fall back to what the catalog holds
        pass
    return session.scalar(select(Prediction.head).order_by(Prediction.id.desc()).limit(1))


def current_backbone_version(session: Any) -> str | None:
    """The backbone version whose embeddings to compare: the installed bundle's, else the
    version with the most stored embeddings."""
    from sqlalchemy import func, select

    from smartalbum.library.schema import Embedding

    try:
        from smartalbum.library.catalog import backbone_version
        from smartalbum.model.bundle import Bundle

        version = backbone_version(Bundle.load(get_settings().model.bundle))
        if session.scalar(select(Embedding.id).where(Embedding.backbone_version == version)):
            return version
    except Exception:  # noqa: BLE001 - no usable bundle
        pass
    return session.scalar(
        select(Embedding.backbone_version)
        .group_by(Embedding.backbone_version)
        .order_by(func.count(Embedding.id).desc())
        .limit(1)
    )


def load_photos(factory: Any, *, head: str | None = None) -> tuple[list[Any], str | None]:
    """Every photo with a present copy (with the head's latest prediction and corrections)."""
    from smartalbum.library.catalog import iter_photos

    with factory() as session:
        name = default_head(session, head)
        return list(iter_photos(session, head=name)), name


def _echo_json(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _short(text: str | None, width: int = 70) -> str:
    text = text or "-"
    return text if len(text) <= width else "…" + text[-(width - 1) :]


# --------------------------------------------------------------------------- commands


def register(cli: click.Group) -> None:
    """Attach ``duplicates``, ``review``, ``trips`` and ``organize`` to ``smartalbum``."""
    cli.add_command(duplicates)
    cli.add_command(review)
    cli.add_command(trips)
    cli.add_command(organize)


@click.command()
@_format_option
@click.option(
    "--near/--exact-only",
    default=True,
    show_default=True,
    help="Also look for near-duplicates (resized or re-encoded copies).",
)
@click.option(
    "--hamming",
    type=click.IntRange(0, 32),
    default=None,
    help="Most differing pHash bits (default 6).",
)
@click.option(
    "--cosine",
    type=click.FloatRange(-1, 1),
    default=None,
    help="Least embedding cosine similarity (default 0.60).",
)
@click.option(
    "--pixels",
    type=click.FloatRange(0, 255),
    default=None,
    help="Most thumbnail difference in grey levels (default 8).",
)
@database_url_option
def duplicates(
    fmt: str,
    near: bool,
    hamming: int | None,
    cosine: float | None,
    pixels: float | None,
    database_url: str | None,
) -> None:
    """List exact and near-duplicate photos and which copy to keep. Nothing is deleted."""
    from smartalbum.library import duplicates as dup
    from smartalbum.library.catalog import load_embeddings

    factory = open_catalog_for_cli(database_url)
    photos, _ = load_photos(factory)
    stats = dup.NearStats()
    groups = dup.exact_groups(photos)
    if near:
        with factory() as session:
            version = current_backbone_version(session)

        def embeddings(ids: list[int]) -> dict[int, Any]:
            if version is None:
                return {}
            with factory() as session:
                return load_embeddings(session, ids, version)

        groups += dup.near_groups(
            photos,
            embeddings=embeddings,
            hamming_max=dup.HAMMING_MAX if hamming is None else hamming,
            cosine_min=dup.COSINE_MIN if cosine is None else cosine,
            signature_max=dup.SIGNATURE_MAX_DIFF if pixels is None else pixels,
            stats=stats,
        )
    for number, group in enumerate(groups, 1):
        if fmt == "json":
            _echo_json({"group": number, **group.to_dict()})
            continue
        what = "identical copies" if group.kind == "exact" else "near-duplicates"
        click.echo(f"group {number}: {len(group.members)} {what}; keep: {group.reason}")
        for k, m in enumerate(group.members):
            taken = m.taken_at.strftime("%Y-%m-%d %H:%M") if m.taken_at else "undated"
            blur = f"blur {m.blur:.0f}" if m.blur is not None else ""
            mark = "KEEP" if k == 0 else "    "
            click.echo(f"  {mark} {_short(m.path):<70} {m.width}x{m.height} {taken} {blur}")
    exact = [g for g in groups if g.kind == "exact"]
    near_found = [g for g in groups if g.kind == "near"]
    summary = (
        f"{len(exact)} photos with identical copies "
        f"({sum(len(g.members) - 1 for g in exact)} extra files), "
        f"{len(near_found)} near-duplicate groups "
        f"({sum(len(g.members) for g in near_found)} photos); nothing was deleted"
    )
    if near and stats.unverified:
        summary += f"; {stats.unverified} candidate pairs unreadable, not grouped"
    click.echo(summary, err=fmt == "json")


@click.command()
@_format_option
@click.option(
    "--reason",
    "reasons",
    multiple=True,
    type=click.Choice(["uncertain", "blurry", "exposure"]),
    help="Only these reasons (repeatable; default: all).",
)
@click.option(
    "--blur-threshold",
    type=click.FloatRange(0),
    default=None,
    help="Blur score below which a photo is blurry (default 100).",
)
@_head_option
@database_url_option
def review(
    fmt: str,
    reasons: tuple[str, ...],
    blur_threshold: float | None,
    head: str | None,
    database_url: str | None,
) -> None:
    """List photos to look at: uncertain labels, blurry or badly exposed. Nothing is hidden."""
    from smartalbum.imaging.quality import BLUR_THRESHOLD
    from smartalbum.library.review import review_list

    photos, _ = load_photos(open_catalog_for_cli(database_url), head=head)
    items = review_list(
        photos,
        reasons=reasons or None,
        blur_threshold=BLUR_THRESHOLD if blur_threshold is None else blur_threshold,
    )
    for item in items:
        if fmt == "json":
            _echo_json(item.to_dict())
            continue
        label = item.label or "-"
        conf = f"{item.confidence:.2f}" if item.confidence is not None else "    "
        blur = f"{item.blur:.0f}" if item.blur is not None else "-"
        click.echo(
            f"{_short(item.path):<70}  {','.join(item.reasons):<24} {label:<14} {conf} "
            f"blur {blur:>5}  exposure {item.exposure or '-'}"
        )
    counts = {r: sum(r in i.reasons for i in items) for r in ("uncertain", "blurry", "exposure")}
    click.echo(
        f"{len(items)} photos to review — "
        + ", ".join(f"{k}: {v}" for k, v in counts.items() if not reasons or k in reasons),
        err=fmt == "json",
    )


@click.command()
@_format_option
@click.option(
    "--home",
    default=None,
    metavar="LAT,LON",
    help="Home position (default: settings trips.home, else learned from the catalog).",
)
@click.option(
    "--radius-km",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Farther than this from home is away (default 50).",
)
@click.option(
    "--gap-hours",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Longer without a far photo ends a trip (default 36).",
)
@click.option(
    "--min-photos",
    type=click.IntRange(1),
    default=None,
    help="Fewer located photos are not a trip (default 3).",
)
@_head_option
@database_url_option
def trips(
    fmt: str,
    home: str | None,
    radius_km: float | None,
    gap_hours: float | None,
    min_photos: int | None,
    head: str | None,
    database_url: str | None,
) -> None:
    """List trips: photos far from home grouped by time and place, with their scenes."""
    from smartalbum.library import trips as tr

    settings = get_settings().trips
    photos, _ = load_photos(open_catalog_for_cli(database_url), head=head)
    text = home or settings.home
    if text:
        try:
            lat, lon = tr.parse_home(text)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--home") from exc
        where: tr.Home | None = tr.Home(lat, lon, source="user")
    else:
        where = tr.learn_home(photos)
    if where is None:
        click.echo("no photo has a GPS position: no home and no trips", err=True)
        return
    found = tr.find_trips(
        photos,
        where,
        radius_km=radius_km or settings.radius_km,
        gap_hours=gap_hours or settings.gap_hours,
        min_photos=min_photos or settings.min_photos,
    )
    how = "set by you" if where.source == "user" else f"learned: photos on {where.days} days"
    click.echo(f"home {where.latitude:.4f}, {where.longitude:.4f} ({how})", err=fmt == "json")
    for trip in found:
        if fmt == "json":
            _echo_json({**trip.to_dict(), "home": where.to_dict()})
            continue
        span = f"{trip.start:%Y-%m-%d} – {trip.end:%Y-%m-%d}"
        joined = f" (+{len(trip.joined_ids)} without GPS)" if trip.joined_ids else ""
        click.echo(
            f"{trip.title}\n  {span}, {len(trip.photo_ids)} photos{joined}, "
            f"up to {trip.farthest_km:.0f} km from home"
        )
        if trip.labels:
            click.echo("  " + ", ".join(f"{k} {v}" for k, v in trip.labels.items()))
    click.echo(f"{len(found)} trips", err=fmt == "json")


@click.command()
@click.option(
    "--into",
    "into",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Target folder (required unless --resume/--rollback).",
)
@click.option(
    "--mode",
    type=click.Choice(["copy", "link", "move"]),
    default="copy",
    show_default=True,
    help="move = copy, verify, then delete the source.",
)
@click.option(
    "--layout",
    default=None,
    show_default="{label}/{year}/{month}",
    help="Folders (and name) under --into: {label} {year} {month} {day} {camera} "
    "{place} {name} {ext}.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan and stop; touch nothing.")
@click.option("--xmp", is_flag=True, help="Write the labels into name.ext.xmp sidecars.")
@click.option(
    "--resume",
    "resume_journal",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Finish the interrupted run of this journal.",
)
@click.option(
    "--rollback",
    "rollback_journal",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Undo the run of this journal.",
)
@click.option("--quiet", is_flag=True, help="Print only the summary, not every planned step.")
@_head_option
@database_url_option
def organize(
    into: Path | None,
    mode: str,
    layout: str | None,
    dry_run: bool,
    xmp: bool,
    resume_journal: Path | None,
    rollback_journal: Path | None,
    quiet: bool,
    head: str | None,
    database_url: str | None,
) -> None:
    """Copy, link or move the catalog's photos into folders by label and date.

    The plan is printed first; existing files are never overwritten; every step is
    journaled in DIR so that an interrupted run can be resumed (--resume) or undone
    (--rollback). Uncertain photos go to DIR/review/.
    """
    from smartalbum.library import organize as org

    if resume_journal and rollback_journal:
        raise click.UsageError("--resume and --rollback cannot be combined")
    journal = resume_journal or rollback_journal
    if journal is not None:
        if into or layout or dry_run or xmp or mode != "copy":
            raise click.UsageError(
                "--resume/--rollback take their folder, mode, layout and --xmp from the journal"
            )
        _replay_run(journal, database_url, rollback=rollback_journal is not None, quiet=quiet)
        return
    if into is None:
        raise click.UsageError("--into DIR is required (or --resume/--rollback JOURNAL)")

    factory = open_catalog_for_cli(database_url)
    photos, _ = load_photos(factory, head=head)
    tags = None
    if xmp:  # the photos' tags become keywords of the sidecars (smartalbum.tags)
        from smartalbum.tags.store import photo_tags

        with factory() as session:
            found = photo_tags(session, [p.id for p in photos])
        tags = {pid: [t.tag for t in ts] for pid, ts in found.items()}
    try:
        plan = org.make_plan(
            photos, into, mode=mode, layout=layout or org.DEFAULT_LAYOUT, xmp=xmp, tags=tags
        )
    except org.OrganizeError as exc:
        raise click.UsageError(str(exc)) from exc
    _print_plan(plan, quiet=quiet)
    if dry_run:
        click.echo("dry run: nothing was changed")
        return
    if not any(item.action != "skip" for item in plan.items) and not xmp:
        click.echo("nothing to do")
        return
    with _progress(len(plan.items)) as tick:
        try:
            result = org.execute(plan, progress=tick)
        except org.OrganizeError as exc:
            raise click.ClickException(str(exc)) from exc
        except KeyboardInterrupt:
            journals = org.find_journals(plan.into)
            hint = f" --resume {journals[-1]}" if journals else ""
            click.echo(f"\ninterrupted; finish with: smartalbum organize{hint}", err=True)
            raise SystemExit(130) from None
    _sync_catalog(database_url, result.journal)
    _report(result, rollback=False)


def _print_plan(plan: Any, *, quiet: bool) -> None:
    counts = plan.counts()
    if not quiet:
        for item in plan.items:
            note = f"  ({item.note})" if item.note else ""
            arrow = f" -> {item.dest}" if item.dest else ""
            click.echo(f"{item.action:<5} {item.source}{arrow}{note}")
    review = sum(1 for i in plan.items if i.review and i.action != "skip")
    click.echo(
        f"plan: {len(plan.items)} photos into {plan.into} ({plan.mode}"
        + (", with XMP sidecars" if plan.xmp else "")
        + "): "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + (f"; {review} uncertain to review/" if review else "")
    )


class _Tick:
    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.seen: set[int] = set()

    def __call__(self, item: Any, step: str) -> None:
        if step in ("verified", "skipped", "failed") and item.index not in self.seen:
            self.seen.add(item.index)
            self.bar.update(1)


class _progress:  # noqa: N801 - used as a context manager, like tqdm
    def __init__(self, total: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="photo", disable=not sys.stderr.isatty(), file=sys.stderr)

    def __enter__(self) -> _Tick:
        return _Tick(self.bar)

    def __exit__(self, *exc: object) -> None:
        self.bar.close()


def _replay_run(journal: Path, database_url: str | None, *, rollback: bool, quiet: bool) -> None:
    from smartalbum.library import organize as org

    if not journal.is_file():
        raise click.UsageError(f"no such journal: {journal}")
    try:
        if rollback:
            before = _journal_states(journal)  # the journal is removed by a clean rollback
            result = org.rollback(journal)
            _sync_catalog(database_url, journal, before)
        else:
            with _progress(0) as tick:
                result = org.resume(journal, progress=tick)
            _sync_catalog(database_url, journal)
    except org.OrganizeError as exc:
        raise click.UsageError(str(exc)) from exc
    _report(result, rollback=rollback)


def _report(result: Any, *, rollback: bool) -> None:
    parts = [f"{k} {v}" for k, v in sorted(result.counts.items()) if v]
    if result.failed:
        parts.append(f"failed {len(result.failed)}")
    click.echo(("rolled back: " if rollback else "done: ") + (", ".join(parts) or "nothing"))
    for item, error in result.failed:
        click.echo(f"  failed: {item.source}: {error}", err=True)
    for conflict in result.conflicts:
        click.echo(f"  left alone: {conflict}", err=True)
    if result.journal.exists():
        action = "undo with" if not rollback else "journal kept:"
        flag = " --rollback" if not rollback else ""
        click.echo(f"{action} smartalbum organize{flag} {result.journal}")
    if not result.ok:
        raise SystemExit(EXIT_INCOMPLETE)


# --------------------------------------------------------------------------- catalog sync


def _journal_states(journal: Path) -> tuple[list[Any], dict[int, Any]]:
    from smartalbum.library import organize as org

    with journal.open(encoding="utf-8") as f:
        records = []
        for line in f:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a torn last line
    items, states, _, _ = org.replay(records[1:])
    return items, states


def _sync_catalog(
    database_url: str | None,
    journal: Path,
    replayed: tuple[list[Any], dict[int, Any]] | None = None,
) -> None:
    """Tell the catalog where the photos are now, so it agrees without a re-index.

    Each path a run touched (destinations, moved sources) gets a File row of its photo,
    present or missing as the disk says now — after a run new copies appear and moved
    sources go missing, after a rollback the reverse. Rows are never deleted.
    """
    import os

    from sqlalchemy import update

    from smartalbum.library.db import insert_ignore, session_scope
    from smartalbum.library.schema import FILE_MISSING, FILE_PRESENT, File, utcnow

    if replayed is None:
        if not journal.exists():
            return
        replayed = _journal_states(journal)
    items, states = replayed

    def mark(session: Any, path: str, photo_id: int) -> None:
        present = os.path.lexists(path)
        if present:
            st = os.stat(path)
            values = {
                "photo_id": photo_id,
                "path": path,
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "status": FILE_PRESENT,
            }
            if insert_ignore(session, File, values, ["path"]):
                return
        session.execute(
            update(File)
            .where(File.path == path, File.photo_id == photo_id)
            .values(status=FILE_PRESENT if present else FILE_MISSING, last_seen=utcnow())
        )

    try:
        with session_scope(open_catalog_for_cli(database_url)) as session:
            for item in items:
                st = states.get(item.index)
                if (
                    item.photo_id is None
                    or st is None
                    or st.state not in ("copied", "verified", "source_removed")
                ):
                    continue
                if st.dest:
                    mark(session, st.dest, item.photo_id)
                if st.state == "source_removed":
                    mark(session, item.source, item.photo_id)
    except Exception as exc:  # noqa: BLE001 - the files are right; the catalog can catch up
        click.echo(
            f"warning: catalog not updated ({exc}); run smartalbum index {journal.parent}", err=True
        )
