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
from typing import Any

import click

from smartalbum.config import get_settings
from smartalbum.library.cli import database_url_option, open_catalog_for_cli

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
