"""ArxivFetcher: the search sources (``SearchSources``: the arXiv API through the
application's ArxivGate, the local index, or both) served by Serve."""

from __future__ import annotations

from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.arxiv.client import ArxivClient
from deployments.arxiv.gate import GateHandle
from deployments.arxiv.sources import SearchSources, open_index
from deployments.common.lifetime import on_shutdown
from deployments.common.metrics import FetcherMetrics
from models.contracts import SearchInfo, SearchRequest, SearchResult
from models.errors import StageError
from models.settings import ArxivSettings


@serve.deployment(name="ArxivFetcher")
class ArxivFetcher:
    def __init__(self, settings: ArxivSettings, gate: DeploymentHandle) -> None:
        self.configured = self.settings = settings  # tuning starts from the configured values
        self.metrics = FetcherMetrics()
        self.client = ArxivClient(
            settings.api_url,
            gate=GateHandle(gate),
            timeout_s=settings.timeout_s,
            backoff_base_s=settings.backoff_base_s,
            observer=self.metrics,
            **settings.tuning.model_dump(),
        )
        index = None
        if settings.source != "api":  # "api" leaves the index closed: an ingest may run
            index = open_index(settings.index, required=settings.source is not None)
        self.sources = SearchSources(self.client, index, settings.source)

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """``num_retries``, ``cache_ttl_s`` (s), ``cache_size`` (searches)."""
        self.settings = self.configured.tuned(user_config)
        self.client.tune(**self.settings.tuning.model_dump())

    async def search(self, request: SearchRequest) -> SearchResult:
        """Up to ``request.max_results`` papers for free text, best first, from the source
        (the index needs the request's ``query_vector``)."""
        with self.metrics.call() as call:
            result = await self.sources.search(request)
            call.items = len(result.papers)
        self.metrics.searched(cache_hit=result.cache_hit)
        await self._watch_index()
        return result

    async def info(self) -> SearchInfo:
        """The search source in use and what the local index holds."""
        info = await self.sources.info()
        self.metrics.index(info.index.newest if info.index else None)
        return info

    async def _watch_index(self) -> None:
        """The index's newest date for the staleness alert (its stats are cached for a
        minute: no query per search)."""
        try:
            stats = await self.sources.stats()
        except Exception:  # the index away: the search said so already
            return
        self.metrics.index(stats.newest if stats else None)

    def check_health(self) -> None:
        # Local state only: arXiv must not see a request per health check.
        if self.client.is_closed:
            raise StageError("the arXiv HTTP client is closed", "arxiv")

    async def release(self) -> None:
        """Close the HTTP client (its connections to arXiv) and the index."""
        await self.client.aclose()
        self.sources.close()

    __del__ = on_shutdown(release)
