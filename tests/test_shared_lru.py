"""The shared LRU cache: bounded, least recently used out first, a read counts as a use."""

from __future__ import annotations

import threading

from bot.shared.lru import LruCache


def test_the_least_recently_used_value_goes_first() -> None:
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a read makes "a" the most recent
    cache.put("c", 3)
    assert cache.get("b") is None
    assert cache.keys() == ["a", "c"]


def test_putting_a_known_key_replaces_it_and_makes_it_recent() -> None:
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 10)
    cache.put("c", 3)
    assert cache.keys() == ["a", "c"] and cache.get("a") == 10


def test_threads_never_push_it_past_its_size() -> None:
    cache: LruCache[int, int] = LruCache(50)

    def fill(offset: int) -> None:
        for n in range(1000):
            cache.put(offset + n, n)
            cache.get(offset + n // 2)

    threads = [threading.Thread(target=fill, args=(k * 10_000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache.keys()) == 50
