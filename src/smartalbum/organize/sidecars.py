"""XMP sidecars next to organised photos: written (new or merged) and restored.

A new sidecar is published like a photo (never over one that appeared meanwhile); a merged
one replaces the sidecar it was merged from only if that is still byte for byte what was
read, so an edit made by another program in between is never lost. Temporary names carry
the run's id and the item's index so that a resumed run or a rollback finds them again.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from smartalbum.atomic import atomic_open
from smartalbum.organize.fileops import drop, fsync_dir, publish_new, write_exclusive


def sidecar_temp(path: Path, run_id: str, index: int) -> Path:
    """The temporary name of ``path`` while run ``run_id`` writes item ``index``'s sidecar."""
    return path.with_name(f".smartalbum-{run_id}-{index}.xmp.part")


def digest_of(path: Path) -> str | None:
    """The SHA-256 of ``path``'s bytes; None when there is no such file."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def write_sidecar(
    path: Path, content: bytes, previous: bytes | None, run_id: str, index: int
) -> bool:
    """Write ``content`` atomically; False when the sidecar changed since it was read
    (``previous`` None: there was none, and one appeared meanwhile)."""
    temp = sidecar_temp(path, run_id, index)
    drop(temp)
    write_exclusive(temp, [content])
    try:
        if previous is None:
            if publish_new(temp, path) is None:
                return False
        else:
            try:
                if path.read_bytes() != previous:
                    return False
            except FileNotFoundError:
                return False
            os.replace(temp, path)  # the merged sidecar replaces the one it was merged from
        fsync_dir(path.parent)
        return True
    finally:
        drop(temp)


def restore_sidecar(path: Path, previous: bytes) -> None:
    """Put back the bytes a sidecar had before the run (it is ours now: the caller checked),
    keeping its permissions."""
    mode = stat.S_IMODE(path.stat().st_mode)
    with atomic_open(path, "wb") as handle:
        if hasattr(os, "fchmod"):
            os.fchmod(handle.fileno(), mode)
        handle.write(previous)
    fsync_dir(path.parent)
