"""Typed errors for photos that cannot be read.

Each error has a stable ``code`` so the CLI can print it and exit non-zero, and the web
layer can turn it into a problem document with the right HTTP status, without either of
them parsing messages.
"""

from __future__ import annotations

from smartalbum.errors import SmartAlbumError

__all__ = [
    "CorruptImageError",
    "EmptyFileError",
    "FileReadError",
    "FileTooLargeError",
    "NotARegularFileError",
    "NotAnImageError",
    "PhotoError",
    "TooLargeToDecodeError",
    "TooManyPixelsError",
    "UnsupportedFormatError",
]


class PhotoError(SmartAlbumError):
    """Base class: this input is not a photo Smart Album can read."""

    code = "photo_error"
    title = "Unreadable photo"
    # A request whose only photo cannot be read is content the service cannot process as an
    # image (415); an empty upload is malformed (400), one over the pixel limit too large (413).
    status = 415

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


class EmptyFileError(PhotoError):
    """The file or upload has zero bytes."""

    code = "empty_file"
    title = "Empty file"
    status = 400


class NotAnImageError(PhotoError):
    """The bytes are not an image in any format we know (a text file, a PDF, ...)."""

    code = "not_an_image"
    title = "Not an image"


class UnsupportedFormatError(PhotoError):
    """An image format that is recognised but not supported (e.g. an animated-only codec)."""

    code = "unsupported_format"
    title = "Unsupported image format"


class CorruptImageError(PhotoError):
    """The image is truncated or its data is damaged; decoding it would give a wrong picture."""

    code = "corrupt_image"
    title = "Corrupt or truncated image"


class TooManyPixelsError(PhotoError):
    """The image declares more pixels than the decompression-bomb limit allows."""

    code = "too_many_pixels"
    title = "Image too large"
    status = 413


class FileReadError(PhotoError):
    """The file could not be read at all (missing, a directory, no permission, I/O error)."""

    code = "file_unreadable"
    title = "File cannot be read"


class NotARegularFileError(FileReadError):
    """A device, FIFO, socket or other non-file: reading it could block or never end."""

    code = "not_a_regular_file"
    title = "Not a regular file"
    status = 400


class FileTooLargeError(FileReadError):
    """The file is larger than ``imaging.max_file_mb``: it is refused before it is read."""

    code = "file_too_large"
    title = "File too large"
    status = 413


class TooLargeToDecodeError(PhotoError):
    """Decoding the image would need more memory than ``imaging.decode_budget_mb`` allows."""

    code = "too_large_to_decode"
    title = "Image too large to decode"
    status = 413
