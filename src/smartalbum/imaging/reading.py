"""Reading a photo file's bytes: regular files only, and never more than the size limit.

A path can name anything: ``/dev/zero`` never ends, a FIFO blocks until someone writes,
a socket cannot be opened at all, and a 40 GB file fills memory. Every reader of user
files (decode, the indexer) goes through :func:`read_photo_file` (or, to stream it, the
API's original photo, :func:`open_photo_file`), which looks at what the
path is before reading (``stat``), again at what was opened (``fstat`` on the descriptor,
so a swap between the two is caught), and reads at most ``limit + 1`` bytes.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

from smartalbum.config import get_settings
from smartalbum.imaging.errors import FileReadError, FileTooLargeError, NotARegularFileError


def max_file_bytes() -> int:
    """The largest photo file read, in bytes (``imaging.max_file_mb``)."""
    return int(get_settings().imaging.max_file_mb * 1024 * 1024)


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_regular(st: os.stat_result, name: str, limit: int | None = None) -> None:
    """Raise the typed error for anything but a regular file within ``limit`` bytes."""
    if stat.S_ISDIR(st.st_mode):
        raise FileReadError(f"{name}: is a directory, not a photo", source=name)
    if not stat.S_ISREG(st.st_mode):
        raise NotARegularFileError(
            f"{name}: is {_kind(st.st_mode)}, not a photo file (only regular files are read)",
            source=name,
        )
    limit = max_file_bytes() if limit is None else limit
    if st.st_size > limit:
        raise FileTooLargeError(
            f"{name}: {st.st_size:,} bytes exceeds the limit of {limit:,} (imaging.max_file_mb)",
            source=name,
        )


def open_photo_file(
    path: str | os.PathLike[str], name: str | None = None, *, limit: int | None = None
) -> tuple[BinaryIO, os.stat_result]:
    """An open binary file of a regular file within ``limit`` bytes, and its ``fstat``.

    For the readers that stream a file instead of holding it (the API's original photo,
    served in ranges): the same checks as :func:`read_photo_file` (a ``stat`` of the path,
    then an ``fstat`` of what was opened), and the same errors. The caller closes the file.
    """
    name = name or os.fspath(path)
    limit = max_file_bytes() if limit is None else limit
    try:
        check_regular(os.stat(path), name, limit)
        # O_NONBLOCK: a FIFO swapped in after the stat must not block the open.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as exc:
        raise FileReadError(f"{name}: no such file", source=name) from exc
    except PermissionError as exc:
        raise FileReadError(f"{name}: permission denied", source=name) from exc
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket (or a device without its driver)
            raise NotARegularFileError(
                f"{name}: is not a regular file (only regular files are read)", source=name
            ) from exc
        raise FileReadError(f"{name}: cannot be read ({exc})", source=name) from exc
    try:
        st = os.fstat(fd)
        check_regular(st, name, limit)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", closefd=True), st
    except OSError as exc:
        os.close(fd)
        raise FileReadError(f"{name}: cannot be read ({exc})", source=name) from exc
    except BaseException:
        os.close(fd)
        raise


def read_photo_file(
    path: str | os.PathLike[str], name: str | None = None, *, limit: int | None = None
) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file and the ``fstat`` of exactly what was read.

    Raises FileReadError (missing, a directory, no permission, I/O error),
    NotARegularFileError (device, FIFO, socket) or FileTooLargeError (over ``limit``,
    default ``imaging.max_file_mb``), never blocks on a FIFO and never reads more than
    ``limit + 1`` bytes.
    """
    name = name or os.fspath(path)
    limit = max_file_bytes() if limit is None else limit
    f, st = open_photo_file(path, name, limit=limit)
    try:
        with f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise FileReadError(f"{name}: cannot be read ({exc})", source=name) from exc
    if len(data) > limit:  # the file grew after the fstat
        raise FileTooLargeError(
            f"{name}: more than {limit:,} bytes (imaging.max_file_mb)", source=name
        )
    return data, st
