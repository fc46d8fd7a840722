"""Adding uploaded photos to the library: the drop page's "Add to library".

Each upload is written into a folder of the library without ever replacing a file, with
organise's primitives (:mod:`smartalbum.organize.fileops`): the bytes go to an exclusively
created temporary file (fsynced, hashed while written), which is published under the
upload's name with :func:`~smartalbum.organize.fileops.publish_new` — a name already taken
gets `` (1)``, `` (2)``... — and a file with the same bytes already there is reused, not
copied twice. The caller indexes the folder's new files afterwards.

The default folder is ``<data_dir>/library/Dropped/<YYYY-MM-DD>/`` (:func:`default_folder`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from smartalbum.errors import is_disk_full
from smartalbum.organize.errors import DiskFullError, OrganizeError
from smartalbum.organize.fileops import drop, fsync_dir, publish_new, same_content, write_exclusive
from smartalbum.organize.layout import candidates, safe_component

#: Folder (under the data dir) of photos added from the drop page.
DROPPED = Path("library") / "Dropped"


@dataclass
class Added:
    """One upload's outcome: ``added`` (a new file), ``already`` (identical file there),
    or ``error`` (with ``detail``)."""

    filename: str
    status: str
    path: str | None = None
    sha256: str | None = None
    detail: str | None = None


def default_folder(data_dir: str | os.PathLike[str], today: date | None = None) -> Path:
    """``<data_dir>/library/Dropped/<YYYY-MM-DD>``."""
    day = (today or date.today()).isoformat()
    return Path(data_dir).expanduser().absolute() / DROPPED / day


def _name(filename: str) -> str:
    """The upload's own file name, made safe (no folders, no control characters)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return safe_component(base, "photo.jpg")


def add_files(uploads: Iterable[tuple[str, bytes]], folder: Path) -> list[Added]:
    """Write each ``(filename, bytes)`` into ``folder`` (created), never overwriting."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"no space left for {folder}") from exc
        raise OrganizeError(f"cannot create {folder}: {exc.strerror}") from exc
    out = []
    for filename, data in uploads:
        digest = hashlib.sha256(data).hexdigest()
        item = Added(filename=filename, status="added", sha256=digest)
        out.append(item)
        temp = folder / f".smartalbum-add-{secrets.token_hex(6)}.part"
        try:
            write_exclusive(temp, [data])
            for candidate in candidates(folder / _name(filename)):
                if os.path.lexists(candidate):
                    if same_content(candidate, digest, len(data)):
                        item.status, item.path = "already", str(candidate)
                        break
                    continue
                if publish_new(temp, candidate) is not None:
                    item.path = str(candidate)
                    break
            fsync_dir(folder)
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFullError(f"no space left in {folder}") from exc
            item.status, item.detail = "error", os.strerror(exc.errno or errno.EIO)
        finally:
            drop(temp)
    return out
