"""Finding photos on disk: which files in the folders a user names are worth opening.

The extension filter only applies to files found *inside* directories (so scanning a
folder skips sidecars, videos and ``.DS_Store``); a file the user names explicitly is
always kept, whatever its extension, and decode decides what it really is (a PNG saved
as ``.jpg`` is still a photo).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from smartalbum.imaging.reading import check_regular

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
    inside directories. Symlinked directories are followed; each real directory is walked
    once (its device and inode are remembered), so a link loop ends and a folder reached
    by two routes gives its photos once. Raises FileNotFoundError for a path that does not
    exist and NotARegularFileError for a named device, FIFO or socket (``/dev/zero``).
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
            check_regular(root.stat(), str(root), limit=sys.maxsize)
            add(root)
            continue
        for dirpath in _walk(root, recursive):
            with os.scandir(dirpath) as entries:
                for entry in entries:
                    candidate = Path(dirpath) / entry.name
                    if is_photo_name(candidate) and entry.is_file():
                        add(candidate)
    return sorted(found.values())


def _dir_key(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _walk(root: Path, recursive: bool) -> Iterator[str]:
    """The directories to look in: ``root`` and, with ``recursive``, its non-hidden
    sub-directories (symlinked ones too), each real directory once, in sorted order."""
    seen = {_dir_key(root)}
    for dirpath, dirnames, _ in os.walk(root, followlinks=True):
        yield dirpath
        keep = []
        for d in sorted(dirnames) if recursive else []:
            if d.startswith("."):
                continue
            key = _dir_key(os.path.join(dirpath, d))
            if key is not None and key not in seen:
                seen.add(key)
                keep.append(d)
        dirnames[:] = keep


def explain_nothing_found(paths: Iterable[str | os.PathLike[str]], recursive: bool) -> str:
    """Why :func:`find_photos` found nothing, in one line a user can act on."""
    reasons = []
    for raw in paths:
        root = Path(raw)
        if not root.is_dir():
            continue
        files = hidden = subdirs = 0
        for dirpath in _walk(root, recursive):
            with os.scandir(dirpath) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        hidden += 1
                    elif entry.is_dir():
                        subdirs += 1
                    else:
                        files += 1
        if subdirs and not recursive:
            reasons.append(f"{root} has {subdirs} sub-folder(s): use --recursive to descend")
        elif files:
            where = " and its sub-folders" if recursive and subdirs else ""
            reasons.append(
                f"none of the {files} file(s) in {root}{where} has a photo extension "
                f"({', '.join(sorted(IMAGE_EXTENSIONS))})"
            )
        elif hidden:
            reasons.append(f"{root} holds only hidden entries (names starting with '.')")
        else:
            reasons.append(f"{root} holds no files" + (" in any sub-folder" if subdirs else ""))
    return "no photos found" + (": " + "; ".join(reasons) if reasons else "")
