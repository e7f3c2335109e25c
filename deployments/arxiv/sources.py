"""``SearchSources``: where the fetcher looks for papers (``ARXIV_SOURCE``).

- ``api``: arXiv's API (``ArxivClient``, behind the application's gate).
- ``index``: the local index (``PaperIndex``): dense + lexical search with the query vector the
  request carries, the date range and categories as filters. Papers come with their vectors
  (and stored summaries), so nothing else is embedded.
- ``hybrid``: the index, plus the API for what is newer than the index's newest record (the
  API is asked only when the requested range reaches past it); merged by arXiv id, the latest
  version kept. If the API fails, the index's answer stands, with a warning.
- unset: the index when it holds records, else the API (read again every ``STATS_TTL_S``, so
  an index filled by a server-mode ingest is picked up without a restart).

Index calls are blocking qdrant-client calls: they run on one thread of their own, so the
replica's event loop never waits on them (and embedded Qdrant sees one thread, as it wants).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import numpy as np

from arm_client.models import ArmWarning, IndexInfo, SearchInfo
from deployments.arxiv.client import ArxivClient
from deployments.common.caches import LRUCache
from deployments.common.logs import arm_logger, log_event
from deployments.index.paper_index import IndexHit, IndexLocked, IndexStats, PaperIndex
from models.contracts import SearchRequest, SearchResult
from models.errors import ArmError, StageError, unwrap
from models.paper import Paper
from models.settings import ArxivSource, IndexSettings

logger = arm_logger(__name__)

STATS_TTL_S = 60.0  # how long the index's record count and newest date are trusted
INDEX_CACHE_SIZE = 2048  # index answers kept (with their vectors: ~40 KB each)
INDEX_CACHE_TTL_S = 3600.0


def open_index(settings: IndexSettings, required: bool) -> PaperIndex | None:
    """The local index as a reader. Embedded and locked by an ingest: an error when the
    source must be the index, else None (the API serves until a restart)."""
    try:
        return PaperIndex.from_settings(settings)
    except IndexLocked:
        if required:
            raise
        log_event(logger, logging.WARNING, "arxiv.index.locked", serving="api")
        return None
    except Exception as exc:  # a Qdrant server away, a collection of another shape
        if required:
            raise StageError(f"the local index cannot be opened: {exc}", "arxiv") from exc
        log_event(logger, logging.WARNING, "arxiv.index.unopenable", error=str(exc), serving="api")
        return None


class SearchSources:
    """One search over the configured source; see the module docstring."""

    def __init__(
        self,
        client: ArxivClient,
        index: PaperIndex | None,
        source: ArxivSource | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if source in ("index", "hybrid") and index is None:
            raise ValueError(f"ARXIV_SOURCE={source} needs the local index")
        self.client = client
        self.index = index
        self.configured = source
        self._clock = clock
        self._stats: tuple[float, IndexStats] | None = None
        self._stats_lock = asyncio.Lock()  # one refresh at a time, however many requests wait
        # Index answers by request: the index changes only with an ingest, and a warm request
        # then costs no search at all (as the API's TTL cache does for arXiv).
        self.index_cache: LRUCache[tuple[Any, ...], SearchResult] = LRUCache(
            INDEX_CACHE_SIZE, ttl_s=INDEX_CACHE_TTL_S, clock=clock
        )
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="index") if index else None

    async def _on_index_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        assert self._thread is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, lambda: fn(*args, **kwargs))

    async def stats(self) -> IndexStats | None:
        """What the index holds (cached ``STATS_TTL_S``); None without an index."""
        if self.index is None:
            return None
        async with self._stats_lock:
            now = self._clock()
            # A new shard published by an ingest is switched to at once; its stats differ
            # (the generation), so cached answers of the old one are not served again.
            due = self.index.switch_due()
            if due or self._stats is None or now - self._stats[0] > STATS_TTL_S:
                self._stats = (now, await self._on_index_thread(self._fresh_stats))
        return self._stats[1]

    def _fresh_stats(self) -> IndexStats:
        assert self.index is not None
        if self.index.refresh():
            log_event(logger, logging.INFO, "arxiv.index.switched", shard=self.index.generation)
        return self.index.stats()

    async def effective_source(self) -> ArxivSource:
        """The source a search uses now: the configured one, or the automatic choice."""
        if self.configured is not None:
            return self.configured
        try:
            stats = await self.stats()
        except Exception as exc:  # unset source: an index that fails leaves the API serving
            log_event(
                logger,
                logging.WARNING,
                "arxiv.index.unanswered",
                error=str(exc),
                serving="api",
            )
            return "api"
        return "index" if stats is not None and stats.records > 0 else "api"

    async def info(self) -> SearchInfo:
        """For ``/capabilities`` and ``/health``: the source and what the index holds."""
        stats = await self.stats()
        return SearchInfo(
            source=await self.effective_source(),
            configured=self.configured or "auto",
            index=None
            if stats is None or self.index is None
            else IndexInfo(records=stats.records, newest=stats.newest),
        )

    async def search(self, request: SearchRequest) -> SearchResult:
        """Up to ``request.max_results`` papers for free text from the effective source (the
        index needs ``request.query_vector``)."""
        source = await self.effective_source()
        if source == "api":
            return await self._from_api(request)
        if source == "index":
            return await self._from_index(request)
        return await self._hybrid(request)

    async def _from_api(self, request: SearchRequest) -> SearchResult:
        result = await self.client.search(request)
        return result.copy(source="api", found_in={p.arxiv_id: "api" for p in result.papers})

    async def _from_index(self, request: SearchRequest) -> SearchResult:
        assert self.index is not None
        key = (request.key(), await self.stats())  # a new ingest (other stats): a new answer
        cached = self.index_cache.get(key)
        if cached is not None:
            return cached.copy(cache_hit=True)
        if request.query_vector is None:
            raise StageError("the local index needs the query's vector in the request", "arxiv")
        vector = np.asarray(request.query_vector, dtype=np.float32)
        if self.index.dimension is not None and vector.shape[-1] != self.index.dimension:
            raise StageError(
                f"the index holds {self.index.dimension}-d vectors but the Embedder makes "
                f"{vector.shape[-1]}-d ones: ingest again with the serving EMBEDDING_MODEL",
                "arxiv",
            )
        hits: list[IndexHit] = await self._on_index_thread(
            self.index.search, request.with_changes(query_vector=vector)
        )
        result = SearchResult(
            papers=[h.paper for h in hits],
            total_found=len(hits),
            query_used=request.describe(),
            source="index",
            found_in={h.paper.arxiv_id: "index" for h in hits},
            vectors={h.paper.arxiv_id: h.vector for h in hits},
            summaries={h.paper.arxiv_id: h.summary for h in hits if h.summary},
        )
        self.index_cache.put(key, result.copy())
        return result

    async def _hybrid(self, request: SearchRequest) -> SearchResult:
        stats = await self.stats()
        newest = stats.newest if stats else None
        index_task = self._from_index(request)
        # Only what the index cannot hold goes to arXiv: submitted after its newest record.
        after = newest + timedelta(days=1) if newest else None
        if after is not None and request.end_date is not None and request.end_date < after:
            result = await index_task
            result.source = "hybrid"
            return result
        start = request.start_date
        api_start = max(start, after) if start and after else (after or start)
        api_task = self._from_api(request.with_changes(start_date=api_start))
        indexed, fresh = await asyncio.gather(index_task, api_task, return_exceptions=True)
        if isinstance(indexed, BaseException):
            raise indexed
        result = indexed
        result.source = "hybrid"
        if isinstance(fresh, BaseException):
            if not isinstance(unwrap(fresh), ArmError):
                raise fresh
            message = (
                f"papers newer than the index are missing: the arXiv API failed ({unwrap(fresh)})"
            )
            result.warnings.append(
                ArmWarning(code="newer_papers_missing", stage="arxiv", message=message)
            )
            return result
        result.papers, result.found_in = merge_latest(
            result.papers, fresh.papers, request.max_results
        )
        for arxiv_id, origin in result.found_in.items():
            if origin == "api":  # only arXiv had it, or a newer version: nothing to reuse
                result.vectors.pop(arxiv_id, None)
                result.summaries.pop(arxiv_id, None)
        result.total_found = indexed.total_found + fresh.total_found
        result.query_used = f"{result.query_used} + arXiv API: {fresh.query_used}"
        result.requests, result.retries = fresh.requests, fresh.retries
        result.gate_wait_s, result.cache_hit = fresh.gate_wait_s, fresh.cache_hit
        return result

    def close(self) -> None:
        """Stop the index thread and release the index."""
        if self._thread is not None:  # a search in flight finishes on its own; none queues
            self._thread.shutdown(wait=False, cancel_futures=True)
            self._thread = None
        if self.index is not None:
            self.index.close()


def merge_latest(
    indexed: list[Paper], fresh: list[Paper], limit: int
) -> tuple[list[Paper], dict[str, str]]:
    """Both lists merged by arXiv id, the latest version of each kept (the index's on a tie:
    it has the vector), at most ``limit``: taken in turn from each list in its own order, so
    the papers newer than the index get their share even when the index alone could fill
    ``limit`` (the Ingress re-ranks them all by meaning). Also each kept paper's origin."""
    by_id: dict[str, tuple[Paper, str]] = {}
    sides = [(p, "index") for p in indexed], [(p, "api") for p in fresh]
    for i in range(max(len(sides[0]), len(sides[1]))):
        for side in sides:
            if i >= len(side):
                continue
            paper, origin = side[i]
            kept = by_id.get(paper.arxiv_id)
            if kept is None and len(by_id) >= limit:
                continue
            if kept is None or paper.version > kept[0].version:
                by_id[paper.arxiv_id] = (paper, origin)
    return [p for p, _ in by_id.values()], {i: origin for i, (_, origin) in by_id.items()}
