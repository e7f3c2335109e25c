"""Embedder core: the real MiniLM, the vector cache, de-duplication and continuous batching."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from deployments.embedder.batcher import ContinuousBatcher
from deployments.embedder.text_embedder import TextEmbedder
from deployments.embedder.vector_cache import VectorCache, embed_deduplicated

TEXTS = [
    "Graph neural networks for molecular property prediction.",
    "Message passing on molecular graphs predicts chemical properties.",
    "Weak lensing masses of galaxy clusters.",
]


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    return TextEmbedder()


def test_vectors_are_unit_length_and_meaningful(embedder: TextEmbedder) -> None:
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] + 0.3  # the two molecule papers are close, lensing is not
    assert embedder.embed([]).shape == (0, 384)


def test_parallel_shards_give_the_same_vectors(embedder: TextEmbedder) -> None:
    sharded = TextEmbedder(workers=2, batch_size=2)
    texts = TEXTS * 3 + ["a much longer text " * 30]
    assert np.allclose(sharded.embed(texts), embedder.embed(texts), atol=1e-5)


def test_no_text_is_encoded_twice(embedder: TextEmbedder) -> None:
    cache = VectorCache(size=100)
    vectors, encoded = embed_deduplicated(embedder, cache, [TEXTS[0], TEXTS[1], TEXTS[0]])
    assert encoded == 2 and np.allclose(vectors[0], vectors[2])
    again, encoded = embed_deduplicated(embedder, cache, [TEXTS[1], TEXTS[2]])
    assert encoded == 1 and np.allclose(again[0], vectors[1])
    assert cache.hits == 1 and len(cache) == 3


def test_cache_is_bounded() -> None:
    cache = VectorCache(size=2)
    for i in range(5):
        cache.put(VectorCache.key(str(i)), np.zeros(3, dtype=np.float32))
    assert len(cache) == 2 and cache.get(VectorCache.key("0")) is None


async def test_continuous_batcher_merges_what_waits_while_busy() -> None:
    runs: list[list[str]] = []
    # Events, not sleeps: the first encode holds until the four later calls are queued,
    # however slowly this machine schedules threads.
    encoding, go_on = threading.Event(), threading.Event()

    def encode(texts: list[str]) -> tuple[np.ndarray, int]:
        runs.append(list(texts))
        if len(runs) == 1:
            encoding.set()
            go_on.wait(30)  # the model is busy (this runs on a worker thread)
        return np.array([[float(len(t))] for t in texts], dtype=np.float32), len(texts)

    batcher = ContinuousBatcher(encode, max_texts=100)
    first = asyncio.create_task(batcher.submit(["x", "y"]))
    assert await asyncio.to_thread(encoding.wait, 30)  # the first call is being encoded ...
    rest = [asyncio.create_task(batcher.submit(["x" * i, "y" * i])) for i in range(2, 6)]
    await asyncio.sleep(0)  # each submit queues its texts before its first await
    go_on.set()
    results = [await first, *[await r for r in rest]]
    # ... so the four that queued meanwhile run together, in one encode.
    assert [len(r) for r in runs] == [2, 8]
    assert [r[:, 0].tolist() for r in results] == [[i, i] for i in range(1, 6)]


async def test_continuous_batcher_respects_its_cap_and_reports_errors() -> None:
    sizes: list[int] = []

    def encode(texts: list[str]) -> tuple[np.ndarray, int]:
        sizes.append(len(texts))
        if "boom" in texts:
            raise RuntimeError("model failed")
        return np.zeros((len(texts), 1), dtype=np.float32), len(texts)

    batcher = ContinuousBatcher(encode, max_texts=4)
    await asyncio.gather(*(batcher.submit(["a", "b", "c"]) for _ in range(4)))
    assert max(sizes) <= 4
    with pytest.raises(RuntimeError, match="model failed"):
        await batcher.submit(["boom"])
    assert (await batcher.submit(["fine"])).shape == (1, 1)  # the batcher survives a failure


async def test_the_batcher_reports_a_dead_worker() -> None:
    class Fatal(BaseException):
        """Something no ``except Exception`` stops: the worker task dies of it."""

    def encode(texts: list[str]) -> tuple[np.ndarray, int]:
        if texts == ["fatal"]:
            raise Fatal()
        return np.zeros((len(texts), 1)), len(texts)

    def broken_metrics(asked: int, encoded: int, seconds: float) -> None:
        raise RuntimeError("metrics exporter gone")

    batcher = ContinuousBatcher(encode, on_run=broken_metrics)
    assert (await batcher.submit(["a"])).shape == (1, 1)  # a failing report loses nothing
    batcher.check()  # idle: healthy
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(batcher.submit(["fatal"]), timeout=0.5)
    with pytest.raises(RuntimeError, match="batch worker died"):
        batcher.check()  # Serve replaces the replica instead of letting calls hang
    await batcher.close()


def test_a_configured_dimension_other_than_the_models_is_refused(embedder: TextEmbedder) -> None:
    embedder.require_dimension(None)
    embedder.require_dimension(384)
    with pytest.raises(ValueError, match=r"EMBEDDING_DIMENSION is 768 but .* makes 384-d"):
        embedder.require_dimension(768)
