"""Where upload bodies wait while a request is parsed: a private directory per app.

Werkzeug keeps small multipart parts in memory and spools big ones to a temporary file.
By default that file goes to the system temp directory; here it goes to a directory that
only this process's user can enter (``mkdtemp`` makes it mode 0700), and the file itself
is anonymous (``TemporaryFile`` is unlinked at creation, or opened with ``O_TMPFILE``),
so no other user can read a photo in transit and nothing is left when the part is closed
at the end of the request. The directory goes when the app is garbage-collected or the
process exits.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import IO

from flask import Flask, Request

# Parts up to this size stay in memory: a 3-5 MB phone photo is never written to disk and
# read back (measured: that round trip cost more than the model). Larger parts spool.
SPOOL_MAX_BYTES = 8 * 1024 * 1024


def make_upload_dir(app: Flask) -> Path:
    """A fresh 0700 directory that is removed together with ``app``."""
    path = Path(tempfile.mkdtemp(prefix="smartalbum-uploads-"))
    weakref.finalize(app, shutil.rmtree, path, ignore_errors=True)
    return path


def private_request_class(upload_dir: Path) -> type[Request]:
    """A Flask Request class whose file parts spool into ``upload_dir`` only."""

    class PrivateUploadRequest(Request):
        def _get_file_stream(
            self,
            total_content_length: int | None,
            content_type: str | None,
            filename: str | None = None,
            content_length: int | None = None,
        ) -> IO[bytes]:
            return tempfile.SpooledTemporaryFile(  # noqa: SIM115 (closed by Werkzeug)
                max_size=SPOOL_MAX_BYTES, mode="rb+", dir=upload_dir
            )

    return PrivateUploadRequest
