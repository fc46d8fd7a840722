"""Where upload bodies wait while a request is parsed: a private directory per app.

Werkzeug hands each multipart file part to a container from the request's
``_get_file_stream``. Here that is a :class:`PartBuffer`: parts up to
``SPOOL_MAX_BYTES`` stay in memory, bigger ones spill to a temporary file in a directory
that only this process's user can enter (``mkdtemp`` makes it mode 0700). The file itself
is anonymous (``TemporaryFile`` is unlinked at creation, or opened with ``O_TMPFILE``), so
no other user can read a photo in transit and nothing is left when the part is closed at
the end of the request. The directory goes when the app is garbage-collected or the
process exits.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import IO, Any

from flask import Flask, Request

from smartalbum.web.multipart import InMemoryFormDataParser

# Parts up to this size stay in memory: a 3-5 MB phone photo is never written to disk and
# read back (measured: that round trip cost more than the model). Larger parts spool.
SPOOL_MAX_BYTES = 8 * 1024 * 1024


class PartBuffer(io.IOBase):
    """One uploaded part: kept as the parser's chunks, joined once when first read.

    The standard ``SpooledTemporaryFile`` grows one ``BytesIO`` by reallocation as
    Werkzeug writes 64 KiB pieces; for a 4 MB photo that, with the parse, cost 12 ms of the
    server's ~95 ms per photo, against 5.7 ms here (docs/benchmarks.md). The joined bytes
    back a ``BytesIO`` without a copy, and reading the whole part from the start returns
    them as they are. A part growing past ``max_memory`` moves to an anonymous temporary
    file in ``spill_dir``.
    """

    def __init__(self, max_memory: int, spill_dir: Path) -> None:
        super().__init__()
        self._chunks: list[bytes] = []
        self._size = 0
        self._max_memory = max_memory
        self._spill_dir = spill_dir
        self._file: IO[bytes] | None = None  # after the first read or the spill
        self.on_disk = False

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self._file is None and self._size + len(data) <= self._max_memory:
            self._chunks.append(bytes(data))
            self._size += len(data)
            return len(data)
        if self._file is None:
            self._file = tempfile.TemporaryFile(dir=self._spill_dir)  # noqa: SIM115
            self._file.writelines(self._chunks)
            self._chunks = []
            self.on_disk = True
        return self._file.write(data)

    def _opened(self) -> IO[bytes]:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        if self._file is None:
            self._file = io.BytesIO(b"".join(self._chunks))
            self._chunks = []
        return self._file

    def read(self, size: int | None = -1) -> bytes:
        return self._opened().read(size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._opened().seek(offset, whence)

    def tell(self) -> int:
        return self._opened().tell()

    def fileno(self) -> int:
        return self._opened().fileno()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._chunks = []
        super().close()


def make_upload_dir(app: Flask) -> Path:
    """A fresh 0700 directory that is removed together with ``app``."""
    path = Path(tempfile.mkdtemp(prefix="smartalbum-uploads-"))
    weakref.finalize(app, shutil.rmtree, path, ignore_errors=True)
    return path


def private_request_class(upload_dir: Path) -> type[Request]:
    """A Flask Request class whose file parts spool into ``upload_dir`` only."""

    class PrivateUploadRequest(Request):
        # bodies up to 32 MB are split in memory (web/multipart.py); larger ones stream
        # through Werkzeug's parser into PartBuffers
        form_data_parser_class = InMemoryFormDataParser

        def _get_file_stream(
            self,
            total_content_length: int | None,
            content_type: str | None,
            filename: str | None = None,
            content_length: int | None = None,
        ) -> IO[bytes]:
            return PartBuffer(SPOOL_MAX_BYTES, upload_dir)  # closed by Werkzeug

    return PrivateUploadRequest
