"""Library commands over the catalog: ``duplicates``, ``review``, ``trips``.

The logic lives in pure modules (library.duplicates, review, trips) over catalog records;
this module only loads records, calls them and prints. ``--format json`` prints one JSON
object per line (as ``smartalbum classify``), the summary going to stderr.

Exit codes: 0 success; 2 bad usage (unknown head, a bad ``--home``, no catalog).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from smartalbum.cli.context import AppContext, pass_app
from smartalbum.cli.options import catalog_head_option, database_url_option, format_option

_format_option = format_option(["table", "json"], help="json = one object per line.")


def _echo_json(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _short(text: str | None, width: int = 70) -> str:
    text = text or "-"
    return text if len(text) <= width else "…" + text[-(width - 1) :]


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
@pass_app
def duplicates(
    app: AppContext,
    fmt: str,
    near: bool,
    hamming: int | None,
    cosine: float | None,
    pixels: float | None,
    database_url: str | None,
) -> None:
    """List exact and near-duplicate photos and which copy to keep. Nothing is deleted."""
    from smartalbum.library import duplicates as dup
    from smartalbum.library.catalog import current_backbone_version, load_embeddings, load_photos

    factory = app.catalog(database_url)
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

        near_found = dup.near_groups(
            photos,
            embeddings=embeddings,
            hamming_max=dup.HAMMING_MAX if hamming is None else hamming,
            cosine_min=dup.COSINE_MIN if cosine is None else cosine,
            signature_max=dup.SIGNATURE_MAX_DIFF if pixels is None else pixels,
            stats=stats,
        )
        groups = dup.merge_groups(photos, groups, near_found)  # each photo in one group
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
@catalog_head_option
@database_url_option
@pass_app
def review(
    app: AppContext,
    fmt: str,
    reasons: tuple[str, ...],
    blur_threshold: float | None,
    head: str | None,
    database_url: str | None,
) -> None:
    """List photos to look at: uncertain labels, blurry or badly exposed. Nothing is hidden."""
    from smartalbum.imaging.quality import BLUR_THRESHOLD
    from smartalbum.library.catalog import load_photos
    from smartalbum.library.review import review_list

    photos, _ = load_photos(app.catalog(database_url), head=head)
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
@catalog_head_option
@database_url_option
@pass_app
def trips(
    app: AppContext,
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
    from smartalbum.library.catalog import load_photos

    settings = app.settings.trips
    photos, _ = load_photos(app.catalog(database_url), head=head)
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
