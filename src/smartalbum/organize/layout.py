"""Where a photo goes: ``--layout`` placeholders, safe path components, collision names.

Placeholders (default ``{label}/{year}/{month}``): ``{label}`` (the user's correction, else
the prediction), ``{year}`` ``{month}`` ``{day}`` (taken-at, two-digit month and day),
``{camera}``, ``{place}`` (city, else region, else country), ``{name}`` (file name without
extension) and ``{ext}`` (extension without the dot, as it was). Without ``{name}`` the
layout names folders and the original file name is kept; with it, the last part is the
file name (the original extension is appended when ``{ext}`` is absent). Photos whose label
is uncertain (or that have none) go under ``review/`` followed by the same layout, so the
model's guess is still visible there. Values are made safe for any filesystem (no
separators, no ``..``, no characters FAT or Windows reject).
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from smartalbum.organize.errors import LayoutError, OrganizeError

if TYPE_CHECKING:
    from smartalbum.library.catalog import PhotoRecord

DEFAULT_LAYOUT = "{label}/{year}/{month}"
PLACEHOLDERS = frozenset({"label", "year", "month", "day", "camera", "place", "name", "ext"})
REVIEW_DIR = "review"
UNKNOWN = "unknown"
MAX_COLLISIONS = 10_000
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


def validate_layout(layout: str) -> list[str]:
    """The placeholders used by ``layout``; LayoutError for unknown ones or unsafe paths."""
    names = []
    try:
        parsed = list(string.Formatter().parse(layout))
    except ValueError as exc:
        raise LayoutError(f"bad layout {layout!r}: {exc}") from exc
    for _literal, name, spec, conversion in parsed:
        if name is not None:
            if name not in PLACEHOLDERS or spec or conversion:
                raise LayoutError(
                    f"unknown placeholder {{{name}}} in layout; use "
                    + " ".join(f"{{{p}}}" for p in sorted(PLACEHOLDERS))
                )
            names.append(name)
    if layout.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", layout):
        raise LayoutError("the layout must be relative to --into")
    if any(part in ("..", ".") for part in re.split(r"[/\\]", layout)):
        raise LayoutError("the layout may not contain '.' or '..' folders")
    return names


def safe_component(value: str | None, fallback: str = UNKNOWN) -> str:
    """One path component from any text: no separators, control or FAT-reserved chars."""
    text = _UNSAFE.sub("_", (value or "").strip()).strip(" .")
    return text[:100] or fallback


def label_of(photo: PhotoRecord) -> tuple[str | None, float | None, str | None, bool]:
    """(label, confidence, source, review) — the correction wins; uncertain -> review."""
    if photo.correction is not None:
        return photo.correction, None, "correction", False
    p = photo.prediction
    if p is None:
        return None, None, None, True
    return p.label, p.confidence, "prediction", bool(p.uncertain)


def render(layout: str, photo: PhotoRecord, source: str) -> str:
    """The relative destination of ``photo`` (from ``source``, its file) under ``layout``."""
    names = validate_layout(layout)
    label, _, _, review = label_of(photo)
    src = Path(source)
    when = photo.taken_at
    values = {
        "label": safe_component(label, "unlabelled"),
        "year": f"{when.year:04d}" if when else UNKNOWN,
        "month": f"{when.month:02d}" if when else UNKNOWN,
        "day": f"{when.day:02d}" if when else UNKNOWN,
        "camera": safe_component(photo.camera),
        "place": safe_component(photo.city or photo.region or photo.country),
        "name": safe_component(src.stem, "photo"),
        "ext": safe_component(src.suffix.lstrip("."), ""),
    }
    parts = [
        safe_component(p, UNKNOWN) for p in re.split(r"[/\\]", layout.format(**values)) if p.strip()
    ]
    if "name" in names:
        if "ext" not in names:
            parts[-1] += src.suffix
    else:
        parts.append(safe_component(src.name, "photo"))
    if review:
        parts.insert(0, REVIEW_DIR)
    return "/".join(parts)


def candidates(dest: Path) -> Iterator[Path]:
    """``dest``, then ``stem (1).ext``, ``stem (2).ext``, ... (the names a photo may take)."""
    yield dest
    stem, suffix = dest.stem, dest.suffix
    for k in range(1, MAX_COLLISIONS):
        yield dest.with_name(f"{stem} ({k}){suffix}")
    raise OrganizeError(f"more than {MAX_COLLISIONS} files named like {dest}")


def existing_candidates(dest: Path, *, patience: int = 20) -> Iterator[Path]:
    """The collision names of ``dest`` that exist (gives up after ``patience`` free names:
    a run publishes at the first free name, but names may have been freed since)."""
    misses = 0
    for candidate in candidates(dest):
        if os.path.lexists(candidate):
            misses = 0
            yield candidate
        else:
            misses += 1
            if misses > patience:
                return
