"""Reading photos: decode, orientation, preprocessing, quality and hashes (no torch here)."""

from smartalbum.imaging.decode import Photo, PhotoFacts, load_photo
from smartalbum.imaging.errors import (
    CorruptImageError,
    EmptyFileError,
    FileReadError,
    NotAnImageError,
    PhotoError,
    TooManyPixelsError,
    UnsupportedFormatError,
)

__all__ = [
    "CorruptImageError",
    "EmptyFileError",
    "FileReadError",
    "NotAnImageError",
    "Photo",
    "PhotoError",
    "PhotoFacts",
    "TooManyPixelsError",
    "UnsupportedFormatError",
    "load_photo",
]
