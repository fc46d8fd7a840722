"""Finding photos on disk: which files in the folders a user names are worth opening.

The extension filter only applies to files found *inside* directories (so scanning a
folder skips sidecars, videos and ``.DS_Store``); a file the user names explicitly is
always kept, whatever its extension, and decode decides what it really is (a PNG saved
as ``.jpg`` is still a photo).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

#: Lower-case suffixes of the photo formats load_photo decodes.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".webp",
        ".tif",
        ".tiff",
        ".bmp",
        ".gif",
        ".mpo",
        ".heic",
        ".heif",
        ".hif",
    }
)


def is_photo_name(path: str | os.PathLike[str]) -> bool:
    """True when the name has a photo extension (case-insensitive) and is not hidden."""
    p = Path(path)
    return not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS


def find_photos(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    recursive: bool = False,
) -> list[Path]:
    """Expand files and directories into a sorted list of photo paths, without duplicates.

    Directories contribute their photo files (and, with ``recursive``, those of their
    sub-directories); hidden files and directories (name starting with ".") are skipped
    inside directories. Symlinked directories are not followed, so a link loop cannot make
    a scan run forever. Raises FileNotFoundError for a path that does not exist.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: dict[Path, Path] = {}  # resolved -> as found; the first spelling wins

    def add(p: Path) -> None:
        found.setdefault(p.resolve(), p)

    for raw in paths:
        root = Path(raw)
        if not root.exists():
            raise FileNotFoundError(f"no such file or directory: {root}")
        if not root.is_dir():
            add(root)
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if recursive else []
            for name in filenames:
                candidate = Path(dirpath) / name
                if is_photo_name(candidate) and candidate.is_file():
                    add(candidate)
    return sorted(found.values())
