"""Reading photos: decode, orientation, preprocessing, quality and hashes (no torch here)."""

from smartalbum.imaging.errors import (
    CorruptImageError,
    EmptyFileError,
    NotAnImageError,
    PhotoError,
    TooManyPixelsError,
    UnsupportedFormatError,
)

__all__ = [
    "CorruptImageError",
    "EmptyFileError",
    "NotAnImageError",
    "PhotoError",
    "TooManyPixelsError",
    "UnsupportedFormatError",
]
