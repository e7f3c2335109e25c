"""Reader: ``PaperReader`` served by Serve. Fetching and parsing are I/O and CPU work kept off
the Ingress, scaled on their own (autoscaling in ``serve_config.yaml``).

Its arXiv requests take turns at the application's one ArxivGate; passages are embedded by the
Embedder and stored next to memory (an Edge shard in ``QDRANT_PATH/passages``, which one
process holds: one replica in embedded mode; any number with a Qdrant server)."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.arxiv.gate import GateHandle
from deployments.common.lifetime import on_shutdown
from deployments.common.logs import arm_logger, log_event
from deployments.common.metrics import ReaderMetrics
from deployments.reader.fetch import FullTextClient
from deployments.reader.passage_store import PassageStore
from deployments.reader.reader import PaperReader
from deployments.reader.text_cache import TextCache
from models.contracts import (
    EvidenceRequest,
    EvidenceResult,
    PassageHit,
    PassageQuery,
    ReaderInfo,
    ReadRequest,
    ReadResult,
)
from models.settings import ReaderSettings, read_secret

logger = arm_logger(__name__)
HEALTH_TIMEOUT_S = 10.0


@serve.deployment(name="Reader")
class Reader:
    def __init__(
        self, settings: ReaderSettings, gate: DeploymentHandle, embedder: DeploymentHandle
    ) -> None:
        key = read_secret("qdrant_api_key")
        if settings.dimension is None:  # graph.py reads it off the model before binding
            raise ValueError("the Reader needs EMBEDDING_DIMENSION (the embedder's vector size)")
        self.store = PassageStore(
            settings.dimension,
            url=settings.qdrant_url,
            path=settings.qdrant_path,
            api_key=key.get_secret_value() if key else None,
            collection=settings.collection,
        )
        client = FullTextClient(
            GateHandle(gate),
            html_url=settings.html_url,
            pdf_url=settings.pdf_url,
            timeout_s=settings.timeout_s,
            max_body_bytes=settings.max_body_bytes,
        )

        async def embed(texts: list[str]) -> np.ndarray:
            return await embedder.embed.remote(texts)

        self.metrics = ReaderMetrics()
        cache = TextCache(settings.cache_path, settings.cache_bytes)
        self.core = PaperReader(client, cache, self.store, embed, self.metrics)
        self.mode = "server" if settings.qdrant_url else "embedded"
        log_event(logger, logging.INFO, "reader.ready", qdrant=self.mode, html=settings.html_url)

    async def evidence(self, request: EvidenceRequest) -> EvidenceResult:
        """The best passages of each paper for the request's query (see PaperReader)."""
        with self.metrics.call() as call:
            result = await self.core.evidence(request)
            call.items = len(result.passages)
        return result

    async def read(self, request: ReadRequest) -> ReadResult:
        """A window of one paper's text, its outline and its best passages for a question."""
        with self.metrics.call() as call:
            result = await self.core.read(request)
            call.items = int(result.failure is None)
        return result

    async def search(self, request: PassageQuery) -> list[PassageHit]:
        """The best passages of every paper read, for a query (memory search)."""
        with self.metrics.call() as call:
            hits = await self.core.search(request)
            call.items = len(hits)
        return hits

    async def info(self) -> ReaderInfo:
        passages = await asyncio.to_thread(self.store.count)
        return ReaderInfo(
            papers_read=self.core.papers_read,
            cache_hits=self.core.cache.hits,
            passages_stored=passages,
            store=self.mode,
        )

    async def check_health(self) -> None:
        await asyncio.wait_for(asyncio.to_thread(self.store.count), HEALTH_TIMEOUT_S)

    async def release(self) -> None:
        await self.core.client.aclose()
        await asyncio.to_thread(self.store.close)

    __del__ = on_shutdown(release)
