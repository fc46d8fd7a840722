"""Atomic file writes: readers see the old file or the new one, never half of one.

One mechanism for every file Smart Album writes in place (heads, user head versions,
thumbnails, face crops, uploaded examples, model side files): a temporary file in the
target's own folder (a rename is atomic only within one file system), flushed and fsynced,
then ``os.replace``d over the target; on any failure the temporary file is removed and the
target is left as it was. Temporary names are unique, so concurrent writers never share one.
Folders written whole (model bundles, mobile bundles) are built the same way in a temporary
sibling folder and swapped in with ``atomic_dir``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` when the ``with`` block succeeds."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes whole files: mode 'wb' or 'w', not {mode!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically."""
    payload = data.encode() if isinstance(data, str) else data
    with atomic_open(path, "wb") as handle:
        handle.write(payload)


@contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary sibling folder to fill, swapped in for the folder ``path`` when the ``with``
    block succeeds (removed, and ``path`` left as it was, when it fails).

    Two renames swap it in: a reader sees the old folder or the new one, whole, except for
    the instant between them, when ``path`` does not exist.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            if old.exists():
                shutil.rmtree(old)
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
