"""One summary per paper at a time, and recent ones kept."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable

from deployments.common.caches import LRUCache
from models.contracts import SummaryOutcome


class SharedSummaries:
    """One summary per paper at a time, and recent ones kept.

    Concurrent requests often rank the same paper before memory has stored its summary; callers
    for a paper whose summary is being made wait for that one call instead of making another
    (for an LLM backend, another paid call). Successful outcomes are kept (LRU, ``size``);
    failures are not, so the next request tries again.
    """

    def __init__(self, size: int) -> None:
        self._done: LRUCache[bytes, SummaryOutcome] = LRUCache(size)
        self._in_flight: dict[bytes, asyncio.Task[SummaryOutcome]] = {}

    def resize(self, size: int) -> None:
        self._done.resize(size)

    def clear(self) -> None:
        """Forget the kept summaries (those in flight still reach their callers)."""
        self._done.clear()

    @staticmethod
    def key(title: str, abstract: str) -> bytes:
        return hashlib.blake2b(f"{title}\x00{abstract}".encode(), digest_size=16).digest()

    async def get(
        self, key: bytes, make: Callable[[], Awaitable[SummaryOutcome]]
    ) -> tuple[SummaryOutcome, bool]:
        """(outcome, shared): ``shared`` when no new summary was made for this call."""
        done = self._done.get(key)
        if done is not None:
            return done, True
        pending = self._in_flight.get(key)
        if pending is not None:
            return await asyncio.shield(pending), True
        # The summary is made in a task of its own: a caller that goes away (its request
        # cancelled) does not take the others' summary with it.
        task = asyncio.ensure_future(self._make(key, make))
        task.add_done_callback(lambda done: done.cancelled() or done.exception())  # seen
        self._in_flight[key] = task
        return await asyncio.shield(task), False

    async def _make(
        self, key: bytes, make: Callable[[], Awaitable[SummaryOutcome]]
    ) -> SummaryOutcome:
        try:
            outcome = await make()
        finally:
            del self._in_flight[key]
        if outcome.summary:
            self._done.put(key, outcome)
        return outcome
