"""Content and perceptual hashes.

SHA-256 identifies a photo's exact bytes (the catalog key: a moved or renamed file is the
same photo). The perceptual hashes (pHash, dHash) identify the *picture*: a resized,
re-encoded or lightly edited copy lands within a few bits, so near-duplicates can be found
by Hamming distance without comparing pixels. Both are 64-bit ints (they fit an SQLite
INTEGER once shifted to signed, and ``hamming`` is one XOR and a popcount).
"""

from __future__ import annotations

import hashlib
import os

import cv2
import numpy as np

_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str], *, chunk_size: int = _CHUNK) -> str:
    """Hex SHA-256 of a file, streamed in chunks (a 200 MB TIFF never sits in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        grey = image
    elif image.ndim == 3 and image.shape[2] == 3:
        grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    else:
        raise ValueError(f"expected an HxW or HxWx3 image, got shape {image.shape}")
    if grey.dtype != np.uint8 or 0 in grey.shape:
        raise ValueError(f"expected a non-empty uint8 image, got {grey.shape} {grey.dtype}")
    return grey


def _bits_to_int(bits: np.ndarray) -> int:
    """Row-major boolean array (64 values) -> int, first value as the most significant bit."""
    return int.from_bytes(np.packbits(bits.ravel()).tobytes(), "big")


def phash(image: np.ndarray) -> int:
    """64-bit DCT perceptual hash: 32x32 grey -> DCT -> 8x8 lowest frequencies > median.

    The low-frequency DCT coefficients describe the picture's coarse structure, which
    survives resizing, JPEG re-encoding and small colour changes.
    """
    small = cv2.resize(_grey(image), (32, 32), interpolation=cv2.INTER_AREA)
    dct = cv2.dct(small.astype(np.float32))
    low = dct[:8, :8]
    return _bits_to_int(low > np.median(low))


def dhash(image: np.ndarray) -> int:
    """64-bit difference hash: 9x8 grey, one bit per "left pixel brighter than right"."""
    small = cv2.resize(_grey(image), (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    return _bits_to_int(small[:, :-1] > small[:, 1:])


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two hashes."""
    return (int(a) ^ int(b)).bit_count()
