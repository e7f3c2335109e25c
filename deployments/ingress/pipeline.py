"""``ResearchPipeline``: ``POST /execute`` step by step (README, "API") over the four stages.

It talks to the stages through the protocols of ``stages``, so it runs without Ray (tests give
it plain objects). Only the search and the embedder fail a request (without vectors nothing can
be ranked); memory or the summarizer failing degrades the answer (a warning, a null summary,
nothing reused) and never loses what was found.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from deployments.common.caches import LRUCache
from deployments.common.logs import arm_logger
from deployments.ingress.outbox import DurableWrites, MemoryOutbox
from deployments.ingress.stages import EmbedStage, MemoryStage, SearchStage, SummarizeStage
from models.errors import Overloaded, unwrap
from models.paper import Paper, query_key
from models.research import (
    MemorySearchRequest,
    MemorySearchResponse,
    Provenance,
    ResearchRequest,
    ResearchResponse,
    StageTiming,
)
from models.stage_types import NewMemory, StoredPaper

logger = arm_logger(__name__)
T = TypeVar("T")

SEARCH_INFO_TTL_S = 60.0


@dataclass
class _Timer:
    timings: list[StageTiming] = field(default_factory=list)

    def add(self, stage: str, started: float) -> None:
        self.timings.append(
            StageTiming(stage=stage, ms=round((time.perf_counter() - started) * 1000, 2))
        )


def _abandon(task: asyncio.Future[Any]) -> None:
    """Stop a task whose result is no longer wanted; its error, if any, is not reported."""
    task.cancel()
    task.add_done_callback(lambda done: done.cancelled() or done.exception())


_SEARCH_METHOD = {
    "api": "arXiv API search",
    "index": "local index search (dense + BM25)",
    "hybrid": "local index search (dense + BM25) and arXiv API for newer papers",
}


def _sources(found_in: dict[str, str], memory: bool) -> list[str]:
    """Provenance ``sources``: "arxiv" (the API), "index", "memory", in that order."""
    origins = set(found_in.values())
    names = [name for key, name in (("api", "arxiv"), ("index", "index")) if key in origins]
    return [*(names or ["arxiv"]), *(["memory"] if memory else [])]


def relevance(similarity: float) -> float:
    """Cosine similarity of unit vectors mapped to [0, 1]: negatives (unrelated) become 0."""
    return 0.0 if math.isnan(similarity) else min(1.0, max(0.0, similarity))


class ResearchPipeline:
    """The request flow over the four stages behind the Ingress.

    ``models`` names what served each stage, for provenance (``stage_models`` asks the stages
    on first use). At most ``max_candidates`` papers are asked of arXiv, about
    ``candidate_factor`` times ``max_papers``.
    """

    def __init__(
        self,
        fetcher: SearchStage,
        embedder: EmbedStage,
        summarizer: SummarizeStage,
        memory: MemoryStage,
        *,
        arm_id: str,
        candidate_factor: int = 2,
        max_candidates: int = 50,
        query_cache_size: int = 4096,
        outbox: MemoryOutbox | None = None,
        memory_write_timeout_s: float = 10.0,
        deadline_s: float = 60.0,
    ) -> None:
        self.fetcher = fetcher
        self.embedder = embedder
        self.summarizer = summarizer
        self.memory = memory
        self.arm_id = arm_id
        self.models = {"memory": "qdrant"}
        self.candidate_factor = candidate_factor
        self.max_candidates = max_candidates
        # Query vectors by exact query text: a repeated query skips the embedder entirely.
        self.query_vectors: LRUCache[str, np.ndarray] = LRUCache(query_cache_size)
        self._search_info: LRUCache[str, dict[str, Any]] = LRUCache(1, ttl_s=SEARCH_INFO_TTL_S)
        self._search_info_retry_at = 0.0
        # Writes the MemoryWriter did not take (restarting, store away) wait on disk.
        self.writes = DurableWrites(memory.upsert, outbox, memory_write_timeout_s)
        self.deadline_s = deadline_s

    async def drain_outbox(self) -> None:
        """Hand the outbox's writes to memory until they land, for ever (cancel to stop)."""
        await self.writes.drain_forever()

    def close(self) -> None:
        """Release the outbox's file (its entries stay for the next replica)."""
        self.writes.close()

    async def search_info(self) -> dict[str, Any] | None:
        """The search source and what the local index holds (records, newest date), asked of
        the fetcher at most once a minute (it never asks arXiv for it); None when the fetcher
        does not answer within 2 s."""
        info = self._search_info.get("info")
        if info is None:
            if time.monotonic() < self._search_info_retry_at:
                return None  # it failed a moment ago: requests do not each wait 2 s for it
            try:
                info = await asyncio.wait_for(self.fetcher.info(), 2.0)
            except Exception as exc:  # restarting or busy: the endpoints answer without it
                logger.warning("could not read the search source: %s", unwrap(exc))
                self._search_info_retry_at = time.monotonic() + 10.0
                return None
            self._search_info.put("info", info)
        return info

    async def stage_models(self) -> dict[str, str]:
        """What serves each stage, asked of the stages once (they are up by the first request;
        the constructor must not wait on them)."""
        if not self.models.get("summarizer"):
            try:
                emb, summ = await asyncio.gather(self.embedder.info(), self.summarizer.info())
            except Exception as exc:  # a stage restarting: ask again next time, answer anyway
                logger.warning("could not read the stages' models: %s", unwrap(exc))
                return self.models
            self.models.update(
                embedder=str(emb["model"]), summarizer=f"{summ['backend']}:{summ['model']}"
            )
        return self.models

    async def _index_first(self) -> bool:
        """Whether the search source reads the local index (as of the last minute)."""
        info = await self.search_info()
        return info is not None and info.get("source") in ("index", "hybrid")

    async def embed_query(self, query: str) -> np.ndarray:
        """The query's unit vector, from a small LRU or the embedder."""
        cached = self.query_vectors.get(query)
        if cached is not None:
            return cached
        vector = np.asarray(await self.embedder.embed([query]), dtype=np.float32)[0]
        self.query_vectors.put(query, vector)
        return vector

    def wanted(self, max_papers: int) -> int:
        """How many candidates to ask the search for: about ``candidate_factor`` times the
        papers wanted, at most ``max_candidates``."""
        return min(self.max_candidates, max(max_papers, max_papers * self.candidate_factor))

    async def execute(self, req: ResearchRequest, request_id: str) -> ResearchResponse:
        """Find, rank, summarise and remember; only search and embedder errors fail it, and
        a request still running at ``deadline_s`` ends with ``Overloaded``."""
        return await self._within_deadline(self._execute(req, request_id))

    async def _within_deadline(self, work: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self.deadline_s) as deadline:
                return await work
        except TimeoutError:
            if not deadline.expired():  # a timeout of the work's own, not the deadline
                raise
            raise Overloaded(
                f"no answer within {self.deadline_s:g} s: the arm is busy or a stage is slow",
                retry_after_s=min(30.0, self.deadline_s / 2),
            ) from None

    async def _execute(self, req: ResearchRequest, request_id: str) -> ResearchResponse:
        began = time.perf_counter()
        await self.stage_models()
        timer = _Timer()
        warnings: list[str] = []
        wanted = self.wanted(req.max_papers)

        # 1-2. The search and the query's vector. arXiv's API is slow and needs no vector: ask
        # both at once. The local index needs the vector first: embed it once, hand it over.
        started = time.perf_counter()
        query_vec_task = asyncio.ensure_future(self.embed_query(req.query))
        try:
            given = await query_vec_task if await self._index_first() else None
            found = await self.fetcher.search(
                req.query, req.start_date, req.end_date, wanted, req.categories, given
            )
        except BaseException:
            _abandon(query_vec_task)
            raise
        timer.add("search", started)
        warnings.extend(found.warnings)
        # One entry per paper (a source may list one twice), never more than was asked for.
        candidates: list[Paper] = list({p.arxiv_id: p for p in found.papers}.values())[:wanted]

        # 3. What memory already holds needs neither embedding nor summarising again.
        started = time.perf_counter()
        stored: dict[str, StoredPaper] = {}
        if candidates:
            try:
                stored = await self.memory.lookup([p.arxiv_id for p in candidates])
            except Exception as exc:
                warnings.append(f"memory lookup failed, nothing reused: {unwrap(exc)}")
        timer.add("memory_lookup", started)

        # 4. Embed the rest (one call: the Embedder batches it with other requests' texts);
        # papers from the local index brought their vectors.
        started = time.perf_counter()
        fresh = [
            p for p in candidates if p.arxiv_id not in stored and p.arxiv_id not in found.vectors
        ]
        try:
            texts = [p.embedding_text for p in fresh]
            fresh_vectors = await self.embedder.embed(texts) if fresh else None
            query_vec = await query_vec_task
        except BaseException:
            _abandon(query_vec_task)
            raise
        timer.add("embed", started)
        vectors: dict[str, np.ndarray] = {**found.vectors}
        vectors.update({k: v.vector for k, v in stored.items()})
        for i, paper in enumerate(fresh):
            vectors[paper.arxiv_id] = np.asarray(fresh_vectors)[i]

        # 5. Rank by cosine similarity; keep the best max_papers.
        scored = sorted(
            ((relevance(float(vectors[p.arxiv_id] @ query_vec)), p) for p in candidates),
            key=lambda item: -item[0],
        )[: req.max_papers]
        top = [p.model_copy(update={"relevance_score": round(score, 4)}) for score, p in scored]

        # 6. Summaries only where memory has none, all at once; a failure is a warning.
        started = time.perf_counter()
        made: dict[str, str] = {}
        made_before: dict[str, str] = {}  # the index's summaries memory lacks: stored with it
        reused = 0
        if req.include_summaries:
            todo = []
            for paper in top:
                old = stored.get(paper.arxiv_id)
                kept = old.summary if old is not None else None
                if not kept and found.summaries.get(paper.arxiv_id):  # made by the ingest:
                    kept = made_before[paper.arxiv_id] = found.summaries[paper.arxiv_id]
                if kept:
                    paper.summary = kept
                    reused += 1
                else:
                    todo.append(paper)
            outcomes = await asyncio.gather(
                *(self.summarizer.summarize(p.title, p.abstract) for p in todo),
                return_exceptions=True,
            )
            for paper, outcome in zip(todo, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    warnings.append(f"{paper.arxiv_id}: summary failed ({unwrap(outcome)})")
                    continue
                paper.summary = outcome.summary
                if outcome.summary:
                    made[paper.arxiv_id] = outcome.summary
                warnings.extend(f"{paper.arxiv_id}: {w}" for w in outcome.warnings)
        timer.add("summarize", started)

        # 7. Store what is new or changed: one point per paper, so nothing is stored twice.
        started = time.perf_counter()
        key = query_key(req.query)
        changes = [
            NewMemory(p, vectors[p.arxiv_id], made.get(p.arxiv_id) or made_before.get(p.arxiv_id))
            for p in candidates
            if p.arxiv_id not in stored
            or p.arxiv_id in made
            or p.arxiv_id in made_before
            or key not in stored[p.arxiv_id].query_keys
            or p.version != stored[p.arxiv_id].paper.version
        ]
        # Shielded: a deadline that fires now must not cancel the write half-way (it lands or
        # goes to the outbox either way).
        pending, warning = await asyncio.shield(self.writes.store(changes, req.query))
        warnings.extend([warning] if warning else [])
        timer.add("memory_upsert", started)

        confidence = float(np.mean([p.relevance_score for p in top])) if top else 0.0
        return ResearchResponse(
            papers=top,
            total_found=found.total_found,
            query_used=found.query_used,
            search_time_ms=round((time.perf_counter() - began) * 1000, 2),
            confidence=round(confidence, 4),
            provenance=Provenance(
                arm_id=self.arm_id,
                request_id=request_id,
                sources=_sources(found.found_in, bool(stored)),
                method=f"{_SEARCH_METHOD.get(found.source, found.source)}, MiniLM cosine "
                "re-ranking, "
                + (
                    f"{self.models.get('summarizer', 'summarizer')} summaries"
                    if req.include_summaries
                    else "no summaries"
                ),
                models={**self.models, "search": found.source},
                timings=timer.timings,
                cache={
                    "arxiv_cache_hit": int(found.cache_hit),
                    "memory_hits": len(stored),
                    "index_hits": sum(1 for s in found.found_in.values() if s == "index"),
                    "embedded": len(fresh),
                    "summaries_made": len(made),
                    "summaries_reused": reused,
                    "stored": len(changes) - pending,
                    "memory_pending": pending,
                },
                found_in={p.arxiv_id: found.found_in.get(p.arxiv_id, "api") for p in top},
            ),
            warnings=warnings,
        )

    async def memory_search(self, req: MemorySearchRequest) -> MemorySearchResponse:
        """Stored papers most similar to the query (within ``deadline_s``)."""
        return await self._within_deadline(self._memory_search(req))

    async def _memory_search(self, req: MemorySearchRequest) -> MemorySearchResponse:
        vector = await self.embed_query(req.query)
        hits = await self.memory.search(vector, req.limit, req.start_date, req.end_date)
        papers = [
            h.paper.model_copy(update={"relevance_score": round(relevance(h.score), 4)})
            for h in hits
        ]
        return MemorySearchResponse(papers=papers, count=len(papers))
