"""Stage an organised copy of a synced mirror for pushing back to a remote.

The organised tree is built with Smart Album's own organiser (smartalbum.organize) in
``link`` mode under the data folder: hard links cost no space, nothing in the mirror is
moved or modified, and an identical file already staged is skipped, so staging is
incremental like the pull. rclone then copies the tree (following links) to the remote.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smartalbum import organize as org

#: Files of ours inside the staging tree that must not be uploaded (organiser journals).
STAGING_EXCLUDES = (f"{org.JOURNAL_PREFIX}*", ".*")


@dataclass
class StageResult:
    """How many photos of the mirror were staged, and how many were already there."""

    photos: int
    linked: int
    skipped: int
    failed: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _under(path: str, root: Path) -> bool:
    try:
        Path(path).absolute().relative_to(root)
    except ValueError:
        return False
    return True


def stage_organised(
    factory: Any, mirror: Path, staging: Path, *, layout: str | None = None, head: str | None = None
) -> StageResult:
    """Link the catalog's photos from ``mirror`` into ``staging`` by label and date."""
    from smartalbum.library.catalog import load_photos

    root = mirror.absolute()
    photos, _ = load_photos(factory, head=head)
    mine = []
    for photo in photos:
        inside = [p for p in photo.paths if _under(p, root) and os.path.isfile(p)]
        if inside:
            photo.paths = inside  # organise the mirror's copy, not one elsewhere
            mine.append(photo)
    plan = org.make_plan(mine, staging, mode="link", layout=layout or org.DEFAULT_LAYOUT)
    todo = [i for i in plan.items if i.action != "skip"]
    failed = 0
    if todo:
        result = org.execute(plan)
        failed = len(result.failed)
    return StageResult(
        photos=len(mine),
        linked=len(todo) - failed,
        skipped=len(plan.items) - len(todo),
        failed=failed,
    )
