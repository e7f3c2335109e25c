"""The stage Protocols of ``models.contracts`` over Serve's deployment handles (one awaited
``.remote()`` per call, the typed request passed whole), and the Ingress's pipeline over them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import numpy as np

from deployments.ingress.durable.outbox import MemoryOutbox
from deployments.ingress.flow.pipeline import ResearchPipeline
from models.contracts import (
    EmbedderInfo,
    EvidenceRequest,
    EvidenceResult,
    MemoryQuery,
    NewMemory,
    PassageHit,
    PassageQuery,
    ReaderInfo,
    ReadRequest,
    ReadResult,
    SearchInfo,
    SearchRequest,
    SearchResult,
    StoredPaper,
    SummarizerInfo,
    SummaryOutcome,
)
from models.settings import IngressSettings

if TYPE_CHECKING:
    from ray.serve.handle import DeploymentHandle


async def answer(response: Any) -> Any:
    """A handle call's answer. A caller that stops waiting (a stage's share of the deadline,
    the deadline, a client gone) cancels the call in its replica too: Serve's own await
    leaves it running there, spending the stage's time on an answer nobody reads."""
    try:
        return await response
    except asyncio.CancelledError:
        response.cancel()
        raise


class FetcherHandle:
    def __init__(self, handle: DeploymentHandle) -> None:
        self._handle = handle

    async def search(self, request: SearchRequest) -> SearchResult:
        return await answer(self._handle.search.remote(request))

    async def info(self) -> SearchInfo:
        return await answer(self._handle.info.remote())


class EmbedderHandle:
    def __init__(self, handle: DeploymentHandle) -> None:
        self._handle = handle

    async def embed(self, texts: list[str]) -> np.ndarray:
        return await answer(self._handle.embed.remote(texts))

    async def info(self) -> EmbedderInfo:
        return await answer(self._handle.info.remote())


class SummarizerHandle:
    def __init__(self, handle: DeploymentHandle) -> None:
        self._handle = handle

    async def summarize(self, title: str, abstract: str) -> SummaryOutcome:
        return await answer(self._handle.summarize.remote(title, abstract))

    async def info(self) -> SummarizerInfo:
        return await answer(self._handle.info.remote())


class MemoryHandle:
    def __init__(self, handle: DeploymentHandle) -> None:
        self._handle = handle

    async def lookup(self, arxiv_ids: list[str]) -> dict[str, StoredPaper]:
        return await answer(self._handle.lookup.remote(arxiv_ids))

    async def upsert(self, items: list[NewMemory], query: str | None) -> int:
        return await answer(self._handle.upsert.remote(items, query))

    async def search(self, query: MemoryQuery) -> list[StoredPaper]:
        return await answer(self._handle.search.remote(query))

    async def delete(self, arxiv_ids: list[str]) -> int:
        return await answer(self._handle.delete.remote(arxiv_ids))


class ReaderHandle:
    def __init__(self, handle: DeploymentHandle) -> None:
        self._handle = handle

    async def evidence(self, request: EvidenceRequest) -> EvidenceResult:
        return await answer(self._handle.evidence.remote(request))

    async def read(self, request: ReadRequest) -> ReadResult:
        return await answer(self._handle.read.remote(request))

    async def search(self, request: PassageQuery) -> list[PassageHit]:
        return await answer(self._handle.search.remote(request))

    async def info(self) -> ReaderInfo:
        return await answer(self._handle.info.remote())


def research_pipeline(
    settings: IngressSettings,
    fetcher: DeploymentHandle,
    embedder: DeploymentHandle,
    summarizer: DeploymentHandle,
    memory: DeploymentHandle,
    reader: DeploymentHandle | None = None,
) -> ResearchPipeline:
    """The Ingress's pipeline over the stages' handles, with its memory outbox and bounds."""
    return ResearchPipeline(
        FetcherHandle(fetcher),
        EmbedderHandle(embedder),
        SummarizerHandle(summarizer),
        MemoryHandle(memory),
        arm_id=settings.arm_id,
        max_candidates=settings.max_candidates,
        query_cache_size=settings.tuning.query_cache_size,
        outbox=MemoryOutbox(settings.outbox_path, settings.outbox_max_entries),
        memory_write_timeout_s=settings.memory_write_timeout_s,
        deadline_s=settings.request_deadline_s,
        search_needs_no_vector=settings.arxiv_source == "api",
        reader=ReaderHandle(reader) if reader is not None else None,
        evidence_deadline_s=settings.evidence_deadline_s,
    )
