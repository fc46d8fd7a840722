"""The plan: where every photo goes and what happens to it, decided before anything is
touched (``--dry-run`` prints it and stops).

One file is organised per photo: its first present copy. Other identical copies stay where
they are (``smartalbum duplicates`` lists them). A photo whose identical file is already at
the target is a ``skip`` — in ``move`` mode its source is kept: deleting a file because a
copy exists elsewhere is the user's decision, not a side effect of organising.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from smartalbum.organize.errors import OrganizeError
from smartalbum.organize.fileops import same_content
from smartalbum.organize.layout import DEFAULT_LAYOUT, candidates, label_of, render, validate_layout

if TYPE_CHECKING:
    from smartalbum.library.catalog import PhotoRecord

Mode = Literal["copy", "link", "move"]
MODES: tuple[str, ...] = ("copy", "link", "move")


@dataclass
class PlanItem:
    """One photo's step in the plan; ``dest`` is where it will be (absolute)."""

    index: int
    photo_id: int | None
    source: str
    sha256: str
    size: int
    dest: str
    action: str  # "copy" | "link" | "move" | "skip"
    label: str | None = None
    confidence: float | None = None
    label_source: str | None = None  # "correction" | "prediction"
    review: bool = False
    note: str = ""
    tags: list[str] = field(default_factory=list)  # written into the XMP sidecar

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Plan:
    """Every photo's step, the target folder and how (mode, layout, sidecars)."""

    into: Path
    mode: str
    layout: str
    items: list[PlanItem]
    xmp: bool = False

    def counts(self) -> Counter[str]:
        return Counter(item.action for item in self.items)


def make_plan(
    photos: Iterable[PhotoRecord],
    into: str | os.PathLike[str],
    *,
    mode: str = "copy",
    layout: str = DEFAULT_LAYOUT,
    xmp: bool = False,
    tags: Mapping[int, Sequence[str]] | None = None,
) -> Plan:
    """Decide where every photo goes. Reads the target to foresee collisions; writes nothing.

    One file per photo (its first present copy that exists); names already taken on disk
    or earlier in the plan get `` (1)``, `` (2)``...; identical content already at the target
    makes the photo a ``skip``. ``tags`` (photo id -> keywords) go into the XMP sidecars.
    """
    if mode not in MODES:
        raise OrganizeError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    validate_layout(layout)
    root = Path(into).expanduser().absolute()
    reserved: set[Path] = set()
    items: list[PlanItem] = []
    for photo in sorted(photos, key=lambda p: p.id):
        source = next((p for p in photo.paths if os.path.isfile(p)), None)
        label, confidence, label_source, review = label_of(photo)
        item = PlanItem(
            index=len(items),
            photo_id=photo.id,
            source=source or (photo.path or ""),
            sha256=photo.sha256,
            size=int(photo.size or 0),
            dest="",
            action=mode,
            label=label,
            confidence=confidence,
            label_source=label_source,
            review=review,
            tags=list((tags or {}).get(photo.id, ())),
        )
        items.append(item)
        if source is None:
            item.action, item.note = "skip", "no present copy on disk"
            continue
        wanted = root / render(layout, photo, source)
        if wanted.absolute() == Path(source).absolute():
            item.dest, item.action, item.note = str(wanted), "skip", "already in place"
            continue
        for candidate in candidates(wanted):
            if candidate in reserved:
                continue
            if os.path.lexists(candidate):
                if same_content(candidate, photo.sha256, item.size):
                    item.dest, item.action = str(candidate), "skip"
                    item.note = "identical file already there"
                    break
                continue
            reserved.add(candidate)
            item.dest = str(candidate)
            if candidate != wanted:
                item.note = f"renamed: {wanted.name} is taken"
            break
    return Plan(into=root, mode=mode, layout=layout, items=items, xmp=xmp)
