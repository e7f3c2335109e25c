"""The Embedder's memory of recent vectors, so that no text is encoded twice."""

from __future__ import annotations

import hashlib
import threading

import numpy as np

from deployments.common.caches import LRUCache
from deployments.embedder.text_embedder import TextEmbedder


class VectorCache:
    """The vectors of recently embedded texts, by content hash; least recently used goes first.

    Concurrent requests often carry the same paper (its abstract found by several queries, or
    re-ranked before memory has stored it): the Embedder sees them all, so it encodes each text
    once. ``size`` vectors of MiniLM take about ``size`` x 1.5 KB.
    """

    def __init__(self, size: int) -> None:
        self._items: LRUCache[bytes, np.ndarray] = LRUCache(size)
        # The encode thread reads and writes it while reconfigure (on the event loop) resizes.
        self._lock = threading.Lock()
        self.hits = 0

    def resize(self, size: int) -> None:
        with self._lock:
            self._items.resize(size)

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.blake2b(text.encode(), digest_size=16).digest()

    def get(self, key: bytes) -> np.ndarray | None:
        with self._lock:
            vector = self._items.get(key)
        if vector is not None:
            self.hits += 1
        return vector

    def put(self, key: bytes, vector: np.ndarray) -> None:
        with self._lock:
            self._items.put(key, vector)

    def __len__(self) -> int:
        return len(self._items)


def embed_deduplicated(
    embedder: TextEmbedder, cache: VectorCache, texts: list[str]
) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``, encoding only those neither cached nor repeated in the list.

    Returns (vectors in input order, number of texts actually encoded).
    """
    keys = [cache.key(t) for t in texts]
    found: dict[bytes, np.ndarray] = {}
    todo: dict[bytes, str] = {}
    for key, text in zip(keys, texts, strict=True):
        if key in found or key in todo:
            continue
        vector = cache.get(key)
        if vector is None:
            todo[key] = text
        else:
            found[key] = vector
    if todo:
        fresh = embedder.embed(list(todo.values()))
        for key, vector in zip(todo, fresh, strict=True):
            found[key] = vector
            cache.put(key, vector)
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32), 0
    return np.stack([found[k] for k in keys]), len(todo)
