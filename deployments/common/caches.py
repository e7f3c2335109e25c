"""The one in-process cache every stage uses: least recently used goes first, and entries may
expire (arXiv results do, after a day; vectors and summaries never do)."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """At most ``maxsize`` entries (0 keeps nothing), each expiring ``ttl_s`` seconds after it
    was written (never, by default). Both can change while it holds entries (live tuning)."""

    def __init__(
        self,
        maxsize: int = 1024,
        *,
        ttl_s: float = math.inf,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.maxsize = maxsize
        self.ttl_s = ttl_s
        self._clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        written, value = item
        if self._clock() - written >= self.ttl_s:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        if self.maxsize <= 0 or self.ttl_s <= 0:
            return
        self._items[key] = (self._clock(), value)
        self._items.move_to_end(key)
        self._trim()

    def resize(self, maxsize: int, ttl_s: float | None = None) -> None:
        """New limits; the oldest entries beyond ``maxsize`` go now."""
        self.maxsize = maxsize
        if ttl_s is not None:
            self.ttl_s = ttl_s
        self._trim()

    def clear(self) -> None:
        self._items.clear()

    def _trim(self) -> None:
        while len(self._items) > max(0, self.maxsize):
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
