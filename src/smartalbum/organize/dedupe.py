"""Resolving a duplicate group: keep one copy, move the others out of the library.

Nothing is deleted. The other copies are *moved* into their own folder under
``<data_dir>/duplicates/<resolution>/`` through organise's journal (:func:`run`), so every
guarantee of organise holds (verified copies, no overwriting, resumable) and the move can be
undone: from the duplicates page (:func:`undo_resolution`) or with
``smartalbum organize --rollback <data_dir>/duplicates/<resolution>/.smartalbum-organize-*.jsonl``.

Why the data dir and not the library's own folder: it is outside the folders the user
indexes, so the moved copies do not come back as duplicates at the next ``index``.

The catalog follows the move: each moved copy's old path is marked missing (the photo
drops out of the gallery when it has no other copy); the copies in the duplicates folder
are not catalogued. An undo puts the files back and marks the old paths present again.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from smartalbum.organize.errors import JournalError, OrganizeError
from smartalbum.organize.executor import Result
from smartalbum.organize.journal import find_journals, read_states
from smartalbum.organize.layout import candidates
from smartalbum.organize.plan import Plan, PlanItem
from smartalbum.organize.runner import run

#: The folder (under the data dir) holding one sub-folder per resolved group.
DUPLICATES_DIR = "duplicates"
#: A resolution's name: its folder under :data:`DUPLICATES_DIR`.
RESOLUTION_NAME = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")


class DuplicateCopyNotFound(OrganizeError):
    """The copy to keep is not in any current duplicate group (the list changed since)."""

    code = "no_duplicate_copy"
    title = "Not a duplicate copy"
    status = 404


class ResolutionNotFound(JournalError):
    """No resolution of that name (already undone, or never made)."""

    code = "no_resolution"
    title = "No such resolution"
    status = 404


def duplicates_folder(data_dir: str | os.PathLike[str]) -> Path:
    """``<data_dir>/duplicates``: where the other copies of resolved groups go."""
    return Path(data_dir).expanduser().absolute() / DUPLICATES_DIR


def plan_resolution(
    members: Sequence[Mapping[str, Any]], keep_photo: int, keep_path: str, folder: Path
) -> Plan:
    """Move every member but ``(keep_photo, keep_path)`` into a new folder under ``folder``.

    ``members`` are a duplicate group's members (dicts with photo_id, path, sha256, size).
    Names keep the file's own name; a second file of the same name gets `` (1)``.
    """
    if not any(m["photo_id"] == keep_photo and m["path"] == keep_path for m in members):
        raise DuplicateCopyNotFound(f"{keep_path!r} is not a copy of this group")
    name = f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    into = folder / name
    taken: set[Path] = set()
    items: list[PlanItem] = []
    for m in members:
        if (m["photo_id"] == keep_photo and m["path"] == keep_path) or not m["path"]:
            continue
        wanted = into / Path(m["path"]).name
        dest = next(c for c in candidates(wanted) if c not in taken)
        taken.add(dest)
        items.append(
            PlanItem(
                index=len(items),
                photo_id=m["photo_id"],
                source=m["path"],
                sha256=m["sha256"],
                size=int(m["size"] or 0),
                dest=str(dest),
                action="move",
                note="duplicate of the copy kept",
            )
        )
    if not items:
        raise DuplicateCopyNotFound("the group has no other copy to move")
    return Plan(into=into, mode="move", layout="{duplicate}", items=items)


def resolve(plan: Plan, catalog: Callable[[], Any] | None) -> Result:
    """Carry out a resolution plan; the catalog marks the moved copies' old paths missing."""
    result = run(plan)
    if catalog is not None:
        items, states = read_states(result.journal)
        gone = [
            item.source
            for item in items
            if states.get(item.index) is not None and states[item.index].state == "source_removed"
        ]
        try:
            mark_missing(catalog(), gone)
        except Exception as exc:  # noqa: BLE001 - the files are right; index catches up
            result.catalog_warning = f"catalog not updated ({exc}); run smartalbum index"
    return result


def mark_missing(factory: Any, paths: Sequence[str]) -> None:
    """Mark the catalog's rows of ``paths`` missing (their files were moved away)."""
    from sqlalchemy import update

    from smartalbum.library.db import session_scope
    from smartalbum.library.schema import FILE_MISSING, File, utcnow

    if not paths:
        return
    with session_scope(factory) as session:
        session.execute(
            update(File)
            .where(File.path.in_(list(paths)))
            .values(status=FILE_MISSING, last_seen=utcnow())
        )


def resolution_journal(folder: Path, name: str) -> Path:
    """The journal of resolution ``name`` (a folder name, never a path)."""
    if not RESOLUTION_NAME.fullmatch(name or ""):
        raise ResolutionNotFound(f"no resolution {name!r}")
    journals = find_journals(folder / name)
    if not journals:
        raise ResolutionNotFound(f"no resolution {name!r} (already undone?)")
    return journals[-1]


def undo_resolution(folder: Path, name: str, catalog: Callable[[], Any] | None) -> Result:
    """Put the moved copies back at their old paths (organise's rollback); the catalog
    marks them present again."""
    return run(None, journal=resolution_journal(folder, name), undo=True, catalog=catalog)
