"""A per-process memory budget for concurrent decodes, and giving memory back afterwards.

One decode's memory is known before any pixel is decoded (width x height x bytes per
pixel of Pillow's raster, see ``decode.decode_cost``). Sixteen threads each decoding a
large PNG would need many GB at once; the budget makes them take turns instead: each
decode reserves its estimate and waits while the reservations of the others would push
the total over ``imaging.decode_budget_mb``. A decode that alone needs more than the
budget is refused by the caller (TooLargeToDecodeError), so a wait always ends.

After a big decode, glibc keeps the freed pages in its heap; :func:`release_memory` asks
it to return them to the system (``malloc_trim``), so a server's RSS goes back down.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from smartalbum.config import get_settings

#: Decodes estimated above this many bytes trigger ``malloc_trim`` once they are done.
TRIM_ABOVE_BYTES = 64 * 1024 * 1024


class MemoryBudget:
    """A semaphore weighted by bytes: ``reserve(n)`` waits until ``n`` more bytes fit."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = int(capacity)
        self.in_use = 0
        self.peak = 0  # the most bytes reserved at once (for tests and benchmarks)
        self._cond = threading.Condition()

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        """Hold ``nbytes`` (capped at the capacity) of the budget while the block runs."""
        n = max(0, min(int(nbytes), self.capacity))
        with self._cond:
            while self.in_use + n > self.capacity:
                self._cond.wait()
            self.in_use += n
            self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            with self._cond:
                self.in_use -= n
                self._cond.notify_all()


_lock = threading.Lock()
_budget: MemoryBudget | None = None


def decode_budget() -> MemoryBudget:
    """The process-wide budget, sized by ``imaging.decode_budget_mb`` (made on first use;
    a changed setting makes a new one)."""
    global _budget
    capacity = int(get_settings().imaging.decode_budget_mb * 1024 * 1024)
    with _lock:
        if _budget is None or _budget.capacity != capacity:
            _budget = MemoryBudget(capacity)
        return _budget


@lru_cache(maxsize=1)
def _malloc_trim() -> object | None:
    """glibc's ``malloc_trim``, or None on other C libraries (musl, macOS, Windows)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_memory() -> bool:
    """Return freed heap memory to the system where the C library allows; True if it did."""
    trim = _malloc_trim()
    if trim is None:
        return False
    try:
        return bool(trim(0))  # type: ignore[operator]
    except Exception:  # noqa: BLE001 - best effort: never let housekeeping fail a decode
        return False
