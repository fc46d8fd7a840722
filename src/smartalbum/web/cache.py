"""The result cache: a repeated photo is answered without decoding it or running the model.

Photos are identified by the SHA-256 of their bytes, so a renamed or re-uploaded file is a
hit, and the key also holds the model version and the head, so a new bundle or another head
can never be answered from a stale entry. The web layer only talks to the small
:class:`ResultCache` protocol, so the catalog (which stores predictions per head version)
can later stand in for the in-memory :class:`LRUResultCache`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, NamedTuple, Protocol


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

    A plain lock is enough: every operation is O(1) and the server's threads spend their
    time decoding and in ONNX Runtime, not here.
    """

    def __init__(self, maxsize: int = 4096) -> None:
        if maxsize < 0:
            raise ValueError("maxsize must be >= 0")
        self.maxsize = maxsize
        self._data: OrderedDict[CacheKey, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> dict[str, Any] | None:
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: CacheKey, value: dict[str, Any]) -> None:
        if self.maxsize == 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)
