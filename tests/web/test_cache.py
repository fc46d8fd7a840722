"""The in-memory result cache: bounded, least-recently-used, thread-safe."""

from __future__ import annotations

import threading

import pytest

from smartalbum.web.cache import CacheKey, LRUResultCache


def key(i: int, version: str = "v1", head: str = "h") -> CacheKey:
    return CacheKey(f"{i:064x}", version, head)


def test_get_returns_what_was_put_and_counts_hits_and_misses() -> None:
    cache = LRUResultCache(4)
    assert cache.get(key(1)) is None
    cache.put(key(1), {"label": "red"})
    assert cache.get(key(1)) == {"label": "red"}
    assert (cache.hits, cache.misses) == (1, 1)


def test_model_version_and_head_are_part_of_the_key() -> None:
    cache = LRUResultCache(4)
    cache.put(key(1, "v1", "colours"), {"label": "red"})
    assert cache.get(key(1, "v2", "colours")) is None
    assert cache.get(key(1, "v1", "strict")) is None


def test_least_recently_used_entry_is_evicted() -> None:
    cache = LRUResultCache(2)
    cache.put(key(1), {"n": 1})
    cache.put(key(2), {"n": 2})
    assert cache.get(key(1)) is not None  # 1 is now the most recent
    cache.put(key(3), {"n": 3})
    assert len(cache) == 2
    assert cache.get(key(2)) is None
    assert cache.get(key(1)) == {"n": 1}
    assert cache.get(key(3)) == {"n": 3}


def test_size_zero_disables_the_cache() -> None:
    cache = LRUResultCache(0)
    cache.put(key(1), {"n": 1})
    assert cache.get(key(1)) is None
    assert len(cache) == 0


def test_negative_size_is_refused() -> None:
    with pytest.raises(ValueError):
        LRUResultCache(-1)


def test_concurrent_use_keeps_the_bound() -> None:
    cache = LRUResultCache(50)

    def work(offset: int) -> None:
        for i in range(500):
            cache.put(key(offset + i), {"n": i})
            cache.get(key(offset + i // 2))

    threads = [threading.Thread(target=work, args=(t * 1000,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 50
    assert cache.hits + cache.misses == 4 * 500
