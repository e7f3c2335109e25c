"""ArxivFetcher: the search sources (``SearchSources``: the arXiv API through the
application's ArxivGate, the local index, or both) served by Serve."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.arxiv.client import ArxivClient
from deployments.arxiv.sources import SearchSources, open_index
from deployments.common.lifetime import on_shutdown
from deployments.common.logs import arm_logger
from deployments.common.metrics import FetcherMetrics
from models.contracts import SearchInfo, SearchRequest, SearchResult
from models.errors import StageError
from models.settings import ArxivSettings

logger = arm_logger(__name__)


class GateHandle:
    """``RequestGate`` over the ArxivGate deployment's handle.

    A search cancelled while it waits for its turn (its caller went away, its deadline passed)
    cancels the wait in the gate, and tells the gate its ticket is abandoned: a turn granted
    just before (its answer on the wire, which Serve's cancel drops) ends at once instead of
    being held until the lease ends (two minutes without an arXiv request, for everyone).
    """

    def __init__(self, handle: DeploymentHandle) -> None:
        self._handle = handle
        self._abandoning: set[asyncio.Task[None]] = set()

    async def acquire(self) -> tuple[int, float]:
        ticket = uuid.uuid4().hex
        response = self._handle.acquire.remote(ticket)
        try:
            token, waited = await response
        except asyncio.CancelledError:
            response.cancel()
            task = asyncio.ensure_future(self._abandon(ticket))
            self._abandoning.add(task)
            task.add_done_callback(self._abandoning.discard)
            raise
        return int(token), float(waited)

    async def _abandon(self, ticket: str) -> None:
        try:
            await self._handle.abandon.remote(ticket)
        except Exception as exc:  # the gate is away: its lease reclaims the turn
            logger.warning("arXiv gate: could not abandon a cancelled turn: %r", exc)

    async def release(self, token: int, hold_off_s: float = 0.0) -> None:
        await self._handle.release.remote(token, hold_off_s)


@serve.deployment(name="ArxivFetcher")
class ArxivFetcher:
    def __init__(self, settings: ArxivSettings, gate: DeploymentHandle) -> None:
        self.configured = self.settings = settings  # tuning starts from the configured values
        self.client = ArxivClient(
            settings.api_url,
            gate=GateHandle(gate),
            timeout_s=settings.timeout_s,
            backoff_base_s=settings.backoff_base_s,
            **settings.tuning.model_dump(),
        )
        index = None
        if settings.source != "api":  # "api" leaves the index closed: an ingest may run
            index = open_index(settings.index, required=settings.source is not None)
        self.sources = SearchSources(self.client, index, settings.source)
        self.metrics = FetcherMetrics()

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """``num_retries``, ``cache_ttl_s`` (s), ``cache_size`` (searches)."""
        self.settings = self.configured.tuned(user_config)
        self.client.tune(**self.settings.tuning.model_dump())

    async def search(self, request: SearchRequest) -> SearchResult:
        """Up to ``request.max_results`` papers for free text, best first, from the source
        (the index needs the request's ``query_vector``)."""
        started = time.perf_counter()
        result = await self.sources.search(request)
        self.metrics.search(
            len(result.papers),
            time.perf_counter() - started,
            cache_hit=result.cache_hit,
            requests=result.requests,
            retries=result.retries,
            gate_wait_s=result.gate_wait_s,
        )
        return result

    async def info(self) -> SearchInfo:
        """The search source in use and what the local index holds."""
        return await self.sources.info()

    def check_health(self) -> None:
        # Local state only: arXiv must not see a request per health check.
        if self.client.is_closed:
            raise StageError("the arXiv HTTP client is closed", "arxiv")

    async def release(self) -> None:
        """Close the HTTP client (its connections to arXiv) and the index."""
        await self.client.aclose()
        self.sources.close()

    __del__ = on_shutdown(release)
