"""``ResearchPipeline``: ``POST /execute`` step by step over the four stages.

    embed the query -> search -> look up -> embed the new -> rank -> [evidence] -> summarise
    -> store -> answer

It talks to the stages through the Protocols of ``models.contracts``, so it runs without Ray
(tests give it plain objects). Every step is a method of its own over one ``Work`` (what the
request has gathered so far; ``flow.work``). Only the search and the embedder fail a request
(without vectors nothing can be ranked); memory or the summarizer failing degrades the answer
(a warning, a null summary, nothing reused) and never loses what was found. A stage that
does not answer within its share of the deadline (``flow.budget``) counts as one that failed.

Ray calls (the Ingress's own; docs/development.md has the measured counts): the query's
vector (none when the query is in the LRU), one search, one memory lookup, one embed of the
papers memory and the search did not bring vectors for (none when every paper did), one
summary per paper without one, one memory write (none when nothing changed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np

from arm_client.models import ArmWarning, PaperRecord
from deployments.common.caches import LRUCache
from deployments.ingress.durable.outbox import MemoryOutbox
from deployments.ingress.durable.writes import DurableWrites
from deployments.ingress.flow.budget import RequestBudget, StageTimeout, abandon
from deployments.ingress.flow.idempotency import IdempotentRuns
from deployments.ingress.flow.reading import ReadingFlow
from deployments.ingress.flow.stage_info import StageInfo
from deployments.ingress.flow.work import Work, relevance, research_response
from models.contracts import (
    EmbedStage,
    MemoryQuery,
    MemoryStage,
    NewMemory,
    ReadStage,
    SearchRequest,
    SearchStage,
    SummarizeStage,
)
from models.errors import StageError, unwrap
from models.paper import Paper, query_key
from models.research import (
    MemorySearchRequest,
    MemorySearchResponse,
    ReadRequest,
    ReadResponse,
    ResearchRequest,
    ResearchResponse,
)


class ResearchPipeline:
    """The request flow over the four stages behind the Ingress.

    At most ``max_candidates`` papers are asked of the search, about ``candidate_factor``
    times ``max_papers``. ``stage_info`` names what serves each stage, for provenance.
    ``search_needs_no_vector``: the search source is configured to be the arXiv API.
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
        search_needs_no_vector: bool = False,
        reader: ReadStage | None = None,
        evidence_deadline_s: float = 20.0,
    ) -> None:
        self.fetcher = fetcher
        self.embedder = embedder
        self.summarizer = summarizer
        self.memory = memory
        self.arm_id = arm_id
        self.stage_info = StageInfo(fetcher, embedder, summarizer)
        self.candidate_factor = candidate_factor
        self.max_candidates = max_candidates
        # Query vectors by exact query text: a repeated query skips the embedder entirely.
        self.query_vectors: LRUCache[str, np.ndarray] = LRUCache(query_cache_size)
        # Writes the MemoryWriter did not take (restarting, store away) wait on disk.
        self.writes = DurableWrites(memory.upsert, outbox, memory_write_timeout_s)
        # The deadline of every work request, and each stage call's share of it.
        self.budget = RequestBudget(deadline_s)
        # Answers by Idempotency-Key (POST /execute), so a retry never reruns a request.
        self.idempotent: IdempotentRuns[ResearchResponse] = IdempotentRuns()
        # The configured source is the arXiv API (ARXIV_SOURCE=api): configuration, not a call.
        self.search_needs_no_vector = search_needs_no_vector
        # Full text (include_evidence, POST /read); None: a pipeline without a Reader.
        self.reading = ReadingFlow(reader, self.budget, evidence_deadline_s) if reader else None

    async def drain_outbox(self, report: Callable[[int, float], None] | None = None) -> None:
        """Hand the outbox's writes to memory until they land, for ever (cancel to stop);
        ``report`` is told the outbox's depth (writes, oldest's age in s) after each round."""
        await self.writes.drain_forever(report)

    def close(self) -> None:
        """Release the outbox's file (its entries stay for the next replica)."""
        self.writes.close()

    async def embed_query(self, query: str) -> np.ndarray:
        """The query's unit vector, from a small LRU or the embedder."""
        cached = self.query_vectors.get(query)
        if cached is not None:
            return cached
        embedded = await self.budget.bounded(self.embedder.embed([query]), "embed", "embedder")
        vector = np.asarray(embedded, dtype=np.float32)[0]
        self.query_vectors.put(query, vector)
        return vector

    def wanted(self, max_papers: int) -> int:
        """How many candidates to ask the search for: about ``candidate_factor`` times the
        papers wanted, at most ``max_candidates``."""
        return min(self.max_candidates, max(max_papers, max_papers * self.candidate_factor))

    async def execute(self, req: ResearchRequest, request_id: str) -> ResearchResponse:
        """Find, rank, summarise and remember; only search and embedder errors fail it, and
        a request still running at ``deadline_s`` ends with ``DeadlineExpired`` (a 503
        ``overloaded``)."""
        return await self.budget.within_deadline(self._execute(Work(req, request_id)))

    async def _execute(self, work: Work) -> ResearchResponse:
        await self._search(work)
        await self._look_up(work)
        await self._embed_new(work)
        self._rank(work)
        if work.req.include_evidence and self.reading is not None:
            await self.reading.attach_evidence(work)
        if work.req.include_summaries:
            await self._summarise(work)
        await self._store(work)
        return research_response(work, self.arm_id, self.stage_info.models)

    async def _search(self, work: Work) -> None:
        """1-2. The query embedded once and handed to the search with the request (the local
        index needs it; the fetcher calls no other stage). With the API source configured the
        search needs no vector: it runs while the query is embedded. One entry per paper, at
        most the number asked for (a source may list one twice)."""
        started = time.perf_counter()
        req, wanted = work.req, self.wanted(work.req.max_papers)
        embedding = asyncio.ensure_future(self.embed_query(req.query))
        try:
            vector = None if self.search_needs_no_vector else await embedding
            request = SearchRequest(
                req.query,
                max_results=wanted,
                start_date=req.start_date,
                end_date=req.end_date,
                categories=req.categories or (),
                query_vector=vector,
            )
            work.found = await self.budget.bounded(self.fetcher.search(request), "search", "arxiv")
            work.query_vector = await embedding
        except BaseException:
            abandon(embedding)
            raise
        work.timed("search", started)
        work.warnings.extend(work.found.warnings)
        work.candidates = list({p.arxiv_id: p for p in work.found.papers}.values())[:wanted]

    async def _look_up(self, work: Work) -> None:
        """3. What memory already holds needs neither embedding nor summarising again."""
        started = time.perf_counter()
        if work.candidates:
            try:
                ids = [p.arxiv_id for p in work.candidates]
                work.stored = await self.budget.bounded(
                    self.memory.lookup(ids), "memory_lookup", "memory"
                )
            except Exception as exc:
                message = f"memory lookup failed, nothing reused: {unwrap(exc)}"
                work.warnings.append(
                    ArmWarning(code="memory_lookup_failed", stage="memory", message=message)
                )
        work.timed("memory_lookup", started)

    async def _embed_new(self, work: Work) -> None:
        """4. Embed the papers nothing brought a vector for, in one call (the Embedder batches
        it with other requests' texts)."""
        started = time.perf_counter()
        work.vectors = {**work.search.vectors}
        work.vectors.update({k: v.vector for k, v in work.stored.items()})
        fresh = [p for p in work.candidates if p.arxiv_id not in work.vectors]
        if fresh:
            texts = [p.embedding_text for p in fresh]
            made = np.asarray(
                await self.budget.bounded(self.embedder.embed(texts), "embed", "embedder")
            )
            work.vectors.update({p.arxiv_id: made[i] for i, p in enumerate(fresh)})
        work.embedded = len(fresh)
        work.timed("embed", started)

    def _rank(self, work: Work) -> None:
        """5. Rank by cosine similarity to the query; keep the best ``max_papers``."""
        assert work.query_vector is not None
        scored = sorted(
            (
                (relevance(float(work.vectors[p.arxiv_id] @ work.query_vector)), p)
                for p in work.candidates
            ),
            key=lambda item: -item[0],
        )[: work.req.max_papers]
        work.top = [p.model_copy(update={"relevance_score": round(s, 4)}) for s, p in scored]

    async def _summarise(self, work: Work) -> None:
        """6. Summaries only where memory (or the ingest) has none, all at once; a failure is
        a warning and a null summary. A paper with evidence is summarised from its abstract
        and its passages (and that summary is not kept: memory keeps abstract summaries)."""
        started = time.perf_counter()
        todo = []
        for paper in work.top:
            old = work.stored.get(paper.arxiv_id)
            kept = old.summary if old is not None else None
            if not kept and work.search.summaries.get(paper.arxiv_id):  # made by the ingest
                kept = work.from_index[paper.arxiv_id] = work.search.summaries[paper.arxiv_id]
            if paper.evidence:  # from the same passages before, or made now
                kept = self.reading.summary_of(paper) if self.reading else None
            if kept:
                paper.summary = kept
                paper.summary_source = "abstract+evidence" if paper.evidence else "abstract"
                work.reused += 1
            else:
                todo.append(paper)
        outcomes = await self.budget.all_bounded(
            [self.summarizer.summarize(p.title, p.summary_input) for p in todo],
            "summarize",
            "summarizer",
        )
        for paper, outcome in zip(todo, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                timed_out = isinstance(outcome, StageTimeout)
                work.warnings.append(
                    ArmWarning(
                        code="summary_timed_out" if timed_out else "summary_failed",
                        stage="summarizer",
                        message=str(outcome)
                        if timed_out
                        else f"summary failed ({unwrap(outcome)})",
                        arxiv_id=paper.arxiv_id,
                    )
                )
                continue
            paper.summary = outcome.summary
            paper.summary_source = "abstract+evidence" if paper.evidence else "abstract"
            if outcome.summary and paper.evidence and self.reading:
                self.reading.keep_summary(paper, outcome.summary)
            elif outcome.summary:
                work.made[paper.arxiv_id] = outcome.summary
            work.warnings.extend(
                w.model_copy(update={"arxiv_id": paper.arxiv_id}) for w in outcome.warnings
            )
        work.timed("summarize", started)

    async def _store(self, work: Work) -> None:
        """7. Store what is new or changed: one point per paper, so nothing is stored twice."""
        started = time.perf_counter()
        key = query_key(work.req.query)

        def changed(paper: Paper) -> bool:
            old = work.stored.get(paper.arxiv_id)
            return (
                old is None
                or paper.arxiv_id in work.made
                or paper.arxiv_id in work.from_index
                or key not in old.query_keys
                or paper.version != old.paper.version
            )

        changes = [
            NewMemory(
                p,
                work.vectors[p.arxiv_id],
                work.made.get(p.arxiv_id) or work.from_index.get(p.arxiv_id),
            )
            for p in work.candidates
            if changed(p)
        ]
        # Shielded: a deadline that fires now must not cancel the write half-way (it lands or
        # goes to the outbox either way).
        work.pending, warning = await asyncio.shield(self.writes.store(changes, work.req.query))
        work.stored_now = len(changes) - work.pending
        work.warnings.extend([warning] if warning else [])
        work.timed("memory_upsert", started)

    async def paper_record(self, arxiv_id: str) -> PaperRecord | None:
        """What memory holds of one paper (version-less id), or None (within ``deadline_s``)."""
        return (await self.paper_records([arxiv_id])).get(arxiv_id)

    async def paper_records(self, arxiv_ids: list[str]) -> dict[str, PaperRecord]:
        """What memory holds of these papers (version-less ids), in one lookup, by id; the
        ids it does not hold are absent (within ``deadline_s``)."""
        stored = await self.budget.within_deadline(self.memory.lookup(arxiv_ids))
        return {
            arxiv_id: PaperRecord(
                paper=found.paper.cited().model_copy(update={"summary": found.summary}),
                summary=found.summary,
                queries=found.queries,
                stored_at=found.stored_at,
            )
            for arxiv_id, found in stored.items()
        }

    async def forget(self, arxiv_id: str) -> bool:
        """Remove one paper from memory; whether it was stored (within ``deadline_s``)."""
        return bool(await self.budget.within_deadline(self.memory.delete([arxiv_id])))

    async def memory_search(self, req: MemorySearchRequest) -> MemorySearchResponse:
        """Stored papers most similar to the query (within ``deadline_s``)."""
        return await self.budget.within_deadline(self._memory_search(req))

    async def _memory_search(self, req: MemorySearchRequest) -> MemorySearchResponse:
        vector = await self.embed_query(req.query)
        if req.scope == "passages":
            if self.reading is None:
                raise StageError("this graph has no Reader stage", "reader")
            found = await self.reading.search_passages(req.query, vector, req.limit)
            return MemorySearchResponse(papers=[], count=len(found), passages=found)
        query = MemoryQuery(vector, req.limit, req.start_date, req.end_date)
        hits = await self.memory.search(query)
        papers = [
            h.paper.cited().model_copy(update={"relevance_score": round(relevance(h.score), 4)})
            for h in hits
        ]
        return MemorySearchResponse(papers=papers, count=len(papers))

    async def read(self, req: ReadRequest) -> ReadResponse:
        """``POST /read`` (within ``deadline_s``); a StageError when no Reader is deployed."""
        if self.reading is None:
            raise StageError("this graph has no Reader stage", "reader")
        vector = await self.embed_query(req.question) if req.question else None
        return await self.budget.within_deadline(self.reading.read(req, vector))
