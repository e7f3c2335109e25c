"""MemoryWriter: ``PaperMemory`` served by Serve; every Qdrant call on one worker thread.

One thread because the embedded store is a single-process, single-writer database (and its
calls block); with a server it also keeps writes in order. Embedded Qdrant locks its folder, so
this deployment runs one replica in that mode and every read of memory goes through it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ray import serve

from deployments.common.lifetime import on_shutdown
from deployments.common.logs import arm_logger, log_event
from deployments.common.metrics import MemoryMetrics
from deployments.memory.paper_memory import PaperMemory
from models.contracts import MemoryInfo, MemoryQuery, NewMemory, StoredPaper
from models.settings import MemorySettings, read_secret

logger = arm_logger(__name__)
T = TypeVar("T")
HEALTH_TIMEOUT_S = 10.0


@serve.deployment(name="MemoryWriter")
class MemoryWriter:
    def __init__(self, settings: MemorySettings) -> None:
        # The vectors' size comes from the settings (the builder read it off the embedding
        # model), else from the stored collection: no call to the Embedder.
        key = read_secret("qdrant_api_key")
        self.core = PaperMemory(
            settings.dimension,
            url=settings.qdrant_url,
            path=settings.qdrant_path,
            api_key=key.get_secret_value() if key else None,
            collection=settings.collection,
        )
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qdrant")
        self._last_done = time.monotonic()  # when a store call last finished
        self.metrics = MemoryMetrics()
        log_event(
            logger,
            logging.INFO,
            "memory.ready",
            qdrant=self.core.mode,
            location=str(self.core.location),
        )

    async def _run(self, op: str, items: int, fn: Callable[..., T], *args: Any) -> T:
        with self.metrics.call() as call:
            result = await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
            call.items = items
        self._last_done = time.monotonic()
        self.metrics.operation(op)
        return result

    async def lookup(self, arxiv_ids: list[str]) -> dict[str, StoredPaper]:
        """Stored papers among ``arxiv_ids`` (version-less), with vectors and summaries."""
        found = await self._run("lookup", len(arxiv_ids), self.core.lookup, arxiv_ids)
        self.metrics.hits(len(found))
        return found

    async def upsert(self, items: list[NewMemory], query: str | None = None) -> int:
        """Store papers (one point each, updated in place); ``query`` joins their history."""
        return await self._run("upsert", len(items), self.core.upsert, items, query)

    async def search(self, query: MemoryQuery) -> list[StoredPaper]:
        """Stored papers most similar to the query's vector, published within its dates."""
        return await self._run("search", 1, self.core.search, query)

    async def delete(self, arxiv_ids: list[str]) -> int:
        """Forget these papers; how many were stored."""
        return await self._run("delete", len(arxiv_ids), self.core.delete, arxiv_ids)

    async def count(self) -> int:
        """Papers stored."""
        return await self._run("count", 0, self.core.count)

    async def info(self) -> MemoryInfo:
        """What memory is and holds."""
        core = self.core
        papers = await self.count()
        return MemoryInfo(
            mode=core.mode, collection=core.collection, dimension=core.dimension, papers=papers
        )

    async def check_health(self) -> None:
        # Through the same thread as every other call, so a wedged store shows here; a probe
        # stuck behind a backlog of writes that keep finishing is busy, not wedged.
        probe = asyncio.get_running_loop().run_in_executor(self._pool, self.core.check)
        try:
            await asyncio.wait_for(asyncio.shield(probe), timeout=HEALTH_TIMEOUT_S)
        except TimeoutError:
            if time.monotonic() - self._last_done > HEALTH_TIMEOUT_S:
                raise

    async def release(self) -> None:
        """Close the store (embedded mode: its folder lock) on its thread, then the thread."""
        await asyncio.get_running_loop().run_in_executor(self._pool, self.core.close)
        self._pool.shutdown(wait=False)

    __del__ = on_shutdown(release)
