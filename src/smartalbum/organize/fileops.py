"""The file operations organise is made of, none of which can overwrite a file.

Why not :mod:`smartalbum.atomic` for the photos: ``atomic_open`` *replaces* its target,
which is right for Smart Album's own files and wrong here, where a name that appeared
meanwhile belongs to someone else. A file is therefore written to a temporary name created
exclusively (:func:`write_exclusive`; the name is the caller's, so a resumed run or a
rollback finds it again after a crash) and published with :func:`publish_new`: a hard link,
or on filesystems without hard links (FAT, exFAT, some network shares) an exclusively
created placeholder that our file is renamed over — both fail instead of replacing. Only a
sidecar being restored to its earlier bytes is replaced, and that goes through ``atomic``
(:mod:`smartalbum.organize.sidecars`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from smartalbum.imaging.hashing import sha256_file
from smartalbum.organize.errors import SourceChangedError

CHUNK = 1 << 20
#: errno values meaning "this filesystem cannot make hard links here".
NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS, errno.EXDEV}
_EXCLUSIVE = os.O_WRONLY | os.O_CREAT | os.O_EXCL


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a new name, a removed name) durable."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # platforms that cannot open directories (Windows) have no dir fsync
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def drop(path: Path) -> None:
    """Remove ``path`` if it is there (our temporary files and placeholders only)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def same_content(path: Path, sha256: str, size: int) -> bool:
    """True when ``path`` is a regular file (symlinks followed) with exactly these bytes."""
    try:
        if not path.is_file() or (size and path.stat().st_size != size):
            return False
        return sha256_file(path) == sha256
    except OSError:
        return False


def samefile(a: Path, b: Path) -> bool:
    """True when both names are the same file (False when either is missing)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def our_link(candidate: Path, source: Path) -> str | None:
    """ "hardlink"/"symlink" when ``candidate`` is a link to ``source`` (link mode), else None."""
    if candidate.is_symlink():
        try:
            return "symlink" if Path(os.readlink(candidate)) == source.absolute() else None
        except OSError:
            return None
    return "hardlink" if samefile(candidate, source) else None


def write_exclusive(path: Path, chunks: Iterable[bytes]) -> str:
    """Create ``path`` (never an existing file), write ``chunks`` and fsync; the SHA-256 of
    the bytes written. On any failure the partial file is removed."""
    flags = _EXCLUSIVE | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    digest = hashlib.sha256()
    fd = os.open(path, flags, 0o644)
    try:
        with os.fdopen(fd, "wb", closefd=True) as handle:
            for block in chunks:
                digest.update(block)
                handle.write(block)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return digest.hexdigest()


def copy_verified(source: Path, temp: Path, sha256: str) -> None:
    """Copy ``source`` to a new file ``temp`` (with its times and mode), fsynced, checked
    against ``sha256``.

    The hash is taken over the bytes read, so what was verified is what was written; a
    mismatch means the source changed since indexing and the copy is removed.
    """
    with open(source, "rb") as src:
        digest = write_exclusive(temp, iter(lambda: src.read(CHUNK), b""))
    try:
        shutil.copystat(source, temp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if digest != sha256:
        os.unlink(temp)
        raise SourceChangedError(
            errno.EIO,
            "the source changed since it was indexed (re-run smartalbum index)",
            str(source),
        )


def publish_new(
    temp: Path, dest: Path, *, on_claim: Callable[[], object] | None = None
) -> str | None:
    """Give ``temp``'s file the name ``dest`` without ever replacing a file there.

    "link" (a hard link: ``temp`` is still a second name of it), or "replace" where the
    filesystem has no hard links: ``dest`` is created exclusively as an empty placeholder,
    ``on_claim()`` runs (the executor journals the claim, so a crash leaves a placeholder
    it recognises as its own), then ``temp`` is renamed over it. None when ``dest`` exists.
    """
    try:
        os.link(temp, dest)
        return "link"
    except FileExistsError:
        return None
    except OSError as exc:
        if exc.errno not in NO_LINKS:
            raise
    try:
        os.close(os.open(dest, _EXCLUSIVE, 0o644))
    except FileExistsError:
        return None
    if on_claim is not None:
        on_claim()
    os.replace(temp, dest)
    return "replace"
