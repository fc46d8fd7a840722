"""Reading photos: decode, orientation, preprocessing, quality and hashes (no torch here)."""

from smartalbum.imaging.decode import Photo, PhotoFacts, load_photo
from smartalbum.imaging.errors import (
    CorruptImageError,
    EmptyFileError,
    FileReadError,
    FileTooLargeError,
    NotAnImageError,
    NotARegularFileError,
    PhotoError,
    TooLargeToDecodeError,
    TooManyPixelsError,
    UnsupportedFormatError,
)

__all__ = [
    "CorruptImageError",
    "EmptyFileError",
    "FileReadError",
    "FileTooLargeError",
    "NotARegularFileError",
    "NotAnImageError",
    "Photo",
    "PhotoError",
    "PhotoFacts",
    "TooLargeToDecodeError",
    "TooManyPixelsError",
    "UnsupportedFormatError",
    "load_photo",
]
