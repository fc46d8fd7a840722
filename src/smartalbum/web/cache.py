"""The result cache: a repeated photo is answered without decoding it or running the model.

Photos are identified by the SHA-256 of their bytes, so a renamed or re-uploaded file is a
hit, and the key also holds the model version and the head, so a new bundle or another head
can never be answered from a stale entry. The web layer only talks to the small
:class:`ResultCache` protocol, so the catalog (which stores predictions per head version)
can later stand in for the in-memory :class:`LRUResultCache`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple, Protocol

from cachetools import LRUCache


class CacheKey(NamedTuple):
    """What determines a result: the photo's bytes, the bundle version and the head."""

    sha256: str
    model_version: str
    head: str


class ResultCache(Protocol):
    """Where classification results are kept between requests (must be thread-safe)."""

    def get(self, key: CacheKey) -> dict[str, Any] | None:
        """The stored prediction dict, or None."""
        ...

    def put(self, key: CacheKey, value: dict[str, Any]) -> None:
        """Store a prediction dict (a JSON-ready copy; callers must not mutate it later)."""
        ...


class LRUResultCache:
    """A bounded, thread-safe least-recently-used map; ``maxsize=0`` keeps nothing.

    The eviction is ``cachetools.LRUCache``'s; this class adds the lock (cachetools' caches
    are not thread-safe) and the hit/miss counters. A plain lock is enough: every operation
    is O(1) and the server's threads spend their time decoding and in ONNX Runtime.
    """

    def __init__(self, maxsize: int = 4096) -> None:
        if maxsize < 0:
            raise ValueError("maxsize must be >= 0")
        self.maxsize = maxsize
        # cachetools refuses to store into a zero-sized cache: put() skips it instead.
        self._data: LRUCache[CacheKey, dict[str, Any]] = LRUCache(maxsize=max(maxsize, 1))
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> dict[str, Any] | None:
        with self._lock:
            value = self._data.get(key)  # a hit makes the key the most recently used
            if value is None:
                self.misses += 1
                return None
            self.hits += 1
            return value

    def put(self, key: CacheKey, value: dict[str, Any]) -> None:
        if self.maxsize == 0:
            return
        with self._lock:
            self._data[key] = value

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


class ComputedCache:
    """A few expensive results (whole-catalog summaries) keyed by what they depend on.

    ``get_or_compute`` holds a second lock while computing, so concurrent first requests for
    a result wait for one computation instead of all running it; the entries themselves are
    a ``cachetools.LRUCache`` of ``maxsize`` entries.
    """

    def __init__(self, maxsize: int = 16) -> None:
        self.maxsize = maxsize
        self._data: LRUCache[Hashable, Any] = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()
        self._compute = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value for ``key``, computing and storing it on a miss."""
        with self._lock:
            if key in self._data:
                return self._data[key]  # marks it the most recently used
        with self._compute:
            with self._lock:
                if key in self._data:
                    return self._data[key]
            value = compute()
            with self._lock:
                self._data[key] = value
            return value
