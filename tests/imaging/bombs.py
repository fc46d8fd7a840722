"""Memory bombs for tests and benchmarks: tiny files that decode to huge rasters.

Written row by row with zlib, so making a 13000 x 13000 PNG costs a few KB of memory,
not the 169 MB the test wants the decoder to avoid multiplying.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

#: The issue's bomb: 169 M pixels, under the 200 M limit, about 20 KB on disk.
BOMB_SIDE = 13000


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(side: int = BOMB_SIDE) -> bytes:
    """A 1-bit grey PNG ``side`` x ``side``: left half black, right half white."""
    row_bytes = (side + 7) // 8
    row = bytearray(row_bytes)
    for x in range(side // 2, side):
        row[x // 8] |= 0x80 >> (x % 8)
    line = b"\x00" + bytes(row)  # filter type 0
    comp = zlib.compressobj(9)
    idat = bytearray()
    for _ in range(side):
        idat += comp.compress(line)
    idat += comp.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", bytes(idat))
        + _chunk(b"IEND", b"")
    )


def write_png_bomb(path: Path, side: int = BOMB_SIDE) -> Path:
    """Write :func:`png_bomb` to ``path`` and return it."""
    path.write_bytes(png_bomb(side))
    return path


if __name__ == "__main__":  # python tests/imaging/bombs.py OUT.png [SIDE]
    write_png_bomb(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else BOMB_SIDE)
