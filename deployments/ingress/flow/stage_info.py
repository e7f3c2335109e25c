"""What the stages say of themselves, for the ops endpoints and provenance, off the request path.

- ``models``: what serves the embedder and the summarizer, learned once per Ingress replica by
  ``learn_models`` (a task the Ingress starts; it retries while a stage is still starting), so
  no ``/execute`` waits on it.
- ``search()``: the search source and what the local index holds (``SearchInfo``), for
  ``/health`` and ``/capabilities`` only: asked of the fetcher at most once a minute (it never
  asks arXiv for it), given up after 2 s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from deployments.common.caches import LRUCache
from deployments.common.logs import arm_logger, log_event
from models.contracts import EmbedStage, SearchInfo, SearchStage, SummarizeStage
from models.errors import unwrap

logger = arm_logger(__name__)

SEARCH_INFO_TTL_S = 60.0  # how long the search source's answer is shown unchanged
SEARCH_INFO_TIMEOUT_S = 2.0  # an ops endpoint waits this long for the fetcher, at most
SEARCH_INFO_RETRY_S = 10.0  # after a failure, answer without it this long
MODELS_RETRY_S = (2.0, 60.0)  # while a stage starts, ask again after 2 s, doubling up to 60 s


class StageInfo:
    """See the module docstring. ``clock`` is injected for tests."""

    def __init__(
        self,
        fetcher: SearchStage,
        embedder: EmbedStage,
        summarizer: SummarizeStage,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetcher = fetcher
        self.embedder = embedder
        self.summarizer = summarizer
        self.models: dict[str, str] = {"memory": "qdrant"}
        self._clock = clock
        self._search: LRUCache[str, SearchInfo] = LRUCache(1, ttl_s=SEARCH_INFO_TTL_S, clock=clock)
        self._search_retry_at = 0.0

    async def learn_models(self, attempts: int | None = None) -> None:
        """Ask the embedder and the summarizer what serves them, until both answer (or
        ``attempts`` tries, for tests)."""
        tried, pause = 0, MODELS_RETRY_S[0]
        while attempts is None or tried < attempts:
            tried += 1
            try:
                emb, summ = await asyncio.gather(self.embedder.info(), self.summarizer.info())
            except Exception as exc:  # a stage still starting: ask again shortly
                log_event(logger, logging.INFO, "ingress.models.unknown", error=str(unwrap(exc)))
                if attempts is None or tried < attempts:
                    await asyncio.sleep(pause)
                    pause = min(MODELS_RETRY_S[1], pause * 2)
                continue
            self.models.update(embedder=emb.model, summarizer=f"{summ.backend}:{summ.model}")
            return

    async def search(self) -> SearchInfo | None:
        """The search source and the index's contents; None while the fetcher does not
        answer (then not asked again for ``SEARCH_INFO_RETRY_S``)."""
        info = self._search.get("search")
        if info is not None or self._clock() < self._search_retry_at:
            return info
        try:
            info = await asyncio.wait_for(self.fetcher.info(), SEARCH_INFO_TIMEOUT_S)
        except Exception as exc:  # restarting or busy: the endpoints answer without it
            log_event(logger, logging.WARNING, "ingress.search_info.failed", error=str(unwrap(exc)))
            self._search_retry_at = self._clock() + SEARCH_INFO_RETRY_S
            return None
        self._search.put("search", info)
        return info
