"""Gallery thumbnails: made once per photo from its original file, then kept on disk.

A thumbnail is named by the photo's SHA-256 (``<data_dir>/thumbnails/ab/abcd….jpg``), so
it never goes stale: other bytes are another photo and another name, every copy or move
of a file shares one thumbnail, and a client may cache it for good with the SHA-256 as
its ETag. It is written to a temporary file in the same folder and renamed into place, so
a reader (or a crash) never sees half a JPEG; concurrent requests for the same photo wait
for one decode instead of each doing it.

The original is decoded with :func:`smartalbum.imaging.load_photo` (upright, colour
managed, JPEG reduced-size decode), the same path every other part of Smart Album reads
photos through, so HEIC, 16-bit TIFF or an odd orientation look right here too.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from smartalbum.atomic import atomic_open
from smartalbum.errors import SmartAlbumError
from smartalbum.imaging import PhotoError, load_photo

#: Longest side of a thumbnail, px (tiles are shown at up to ~250 CSS px; 320 stays
#: sharp on most screens and costs ~15-30 KB).
THUMBNAIL_SIDE = 320
THUMBNAIL_QUALITY = 82
SUBDIR = "thumbnails"
#: Display-size previews (the viewer's picture; HEIC and TIFF as JPEG): the same store at
#: these longest sides, under ``<data_dir>/previews/<side>/``. A fixed set, so the cache
#: stays bounded (at most two files per photo) and can be deleted and rebuilt at any time.
PREVIEW_SIDES = (1600, 2560)
PREVIEW_QUALITY = 85
PREVIEW_SUBDIR = "previews"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ThumbnailUnavailableError(SmartAlbumError, LookupError):
    """No copy of the photo could be read (all missing, changed on disk, or unreadable).

    The API answers 404 ``thumbnail_unavailable``.
    """

    code = "thumbnail_unavailable"
    title = "Thumbnail unavailable"
    status = 404


@dataclass(frozen=True)
class Source:
    """A copy of the photo and what the catalog knows of it, to tell whether it changed."""

    path: str
    size: int | None = None
    mtime_ns: int | None = None
    #: The photo's bytes themselves (a file the catalog keeps, library/stored_files.py):
    #: the same on every machine, so always usable.
    data: bytes | None = field(default=None, repr=False, compare=False)

    def unchanged(self) -> bool:
        """The file is there with the catalog's size and mtime (else it may hold other
        bytes than the photo's, and must not be thumbnailed under the photo's hash)."""
        if self.data is not None:
            return True
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        if self.size is not None and st.st_size != self.size:
            return False
        return self.mtime_ns is None or st.st_mtime_ns == self.mtime_ns


class ThumbnailStore:
    """Thumbnails under ``directory`` (normally ``settings.data_dir / "thumbnails"``); with
    another ``side``, the viewer's previews (:func:`preview_store`)."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        side: int = THUMBNAIL_SIDE,
        quality: int = THUMBNAIL_QUALITY,
        max_pixels: int | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.side = side
        self.quality = quality
        self.max_pixels = max_pixels
        self._locks = [threading.Lock() for _ in range(64)]

    def path_for(self, sha256: str) -> Path:
        """Where the thumbnail of the photo with this SHA-256 lives (made or not)."""
        if not _SHA256.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.directory / sha256[:2] / f"{sha256}.jpg"

    def cached(self, sha256: str) -> Path | None:
        path = self.path_for(sha256)
        return path if path.is_file() else None

    def get(self, sha256: str, sources: Iterable[Source | str]) -> Path:
        """The thumbnail's path, made from the first usable source when not on disk yet.

        Raises :class:`ThumbnailUnavailableError` when no source can be read.
        """
        path = self.path_for(sha256)
        if path.is_file():
            return path
        with self._locks[int(sha256[:2], 16) % len(self._locks)]:
            if path.is_file():  # made by the request we waited for
                return path
            problems = []
            for source in sources:
                src = source if isinstance(source, Source) else Source(str(source))
                if not src.unchanged():
                    problems.append(f"{src.path}: missing or changed since it was indexed")
                    continue
                try:
                    image = self.render(src.data if src.data is not None else src.path)
                except (PhotoError, OSError) as exc:
                    problems.append(f"{src.path}: {exc}")
                    continue
                self._write(image, path)
                return path
            detail = "; ".join(problems) if problems else "the photo has no copy on disk"
            raise ThumbnailUnavailableError(detail)

    def render(self, source: str | os.PathLike[str] | bytes) -> Image.Image:
        """Decode ``source`` upright at thumbnail size (raises PhotoError for bad files)."""
        photo = load_photo(source, max_side=self.side, max_pixels=self.max_pixels, digest=False)
        return Image.fromarray(photo.image)

    def _write(self, image: Image.Image, path: Path) -> None:
        """Atomically: a temporary file in the same folder, flushed, then renamed."""
        with atomic_open(path) as f:
            image.save(f, format="JPEG", quality=self.quality, optimize=True)


def preview_store(
    data_dir: str | os.PathLike[str], side: int, *, max_pixels: int | None = None
) -> ThumbnailStore:
    """The store of previews ``side`` px on their longest side (one of :data:`PREVIEW_SIDES`)."""
    if side not in PREVIEW_SIDES:
        raise ValueError(f"preview side {side} is not one of {PREVIEW_SIDES}")
    return ThumbnailStore(
        Path(data_dir) / PREVIEW_SUBDIR / str(side),
        side=side,
        quality=PREVIEW_QUALITY,
        max_pixels=max_pixels,
    )
