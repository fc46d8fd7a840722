"""Organise and the catalog: the plan from the catalog's photos, and the catalog told
afterwards where the photos are now (so it agrees without a re-index)."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from smartalbum.organize.journal import ItemState, read_states
from smartalbum.organize.layout import DEFAULT_LAYOUT
from smartalbum.organize.plan import Plan, PlanItem, make_plan

#: States in which the run put a file somewhere (and maybe removed its source).
_PLACED = ("copied", "verified", "source_removed")


def plan_from_catalog(
    factory: Callable[[], Any],
    into: str | os.PathLike[str],
    *,
    mode: str = "copy",
    layout: str | None = None,
    xmp: bool = False,
    head: str | None = None,
    photo_ids: Collection[int] | None = None,
) -> Plan:
    """The plan for every catalog photo with a present copy (or only those of
    ``photo_ids``: the gallery's selection), labelled by ``head``'s predictions (and the
    user's corrections); with ``xmp`` the photos' tags (smartalbum.tags) become keywords of
    the sidecars. The CLI and the job share it."""
    from smartalbum.library.catalog import load_photos

    photos, _ = load_photos(factory, head=head)
    if photo_ids is not None:
        wanted = set(photo_ids)
        photos = [p for p in photos if p.id in wanted]
    tags = None
    if xmp:
        from smartalbum.tags.store import photo_tags

        with factory() as session:
            found = photo_tags(session, [p.id for p in photos])
        tags = {pid: [t.tag for t in ts] for pid, ts in found.items()}
    return make_plan(photos, into, mode=mode, layout=layout or DEFAULT_LAYOUT, xmp=xmp, tags=tags)


def sync_catalog(
    factory: Callable[[], Any],
    journal: Path,
    replayed: tuple[list[PlanItem], dict[int, ItemState]] | None = None,
) -> None:
    """Tell the catalog where the photos are now.

    Each path a run touched (destinations, moved sources) gets a File row of its photo,
    present or missing as the disk says now — after a run new copies appear and moved
    sources go missing, after a rollback the reverse. Rows are never deleted. ``replayed``
    is the journal's content read earlier (a clean rollback removes the journal).
    """
    from smartalbum.library.db import session_scope

    if replayed is None:
        if not journal.exists():
            return
        replayed = read_states(journal)
    items, states = replayed
    with session_scope(factory) as session:
        for item in items:
            st = states.get(item.index)
            if item.photo_id is None or st is None or st.state not in _PLACED:
                continue
            if st.dest:
                _mark(session, st.dest, item.photo_id)
            if st.state == "source_removed":
                _mark(session, item.source, item.photo_id)


def _mark(session: Any, path: str, photo_id: int) -> None:
    """Record ``path`` as a file of ``photo_id``, present or missing as it is on disk."""
    from sqlalchemy import update

    from smartalbum.library.db import insert_ignore
    from smartalbum.library.schema import FILE_MISSING, FILE_PRESENT, File, utcnow

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
