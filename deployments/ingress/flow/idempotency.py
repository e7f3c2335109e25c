"""``Idempotency-Key`` on ``POST /execute``: a retry after a timeout never reruns the pipeline.

A request with a key is run once per replica: a repeat with the same key within ``window_s``
gets the stored answer, or, while the first is still running, waits for it and gets the same
answer. The run is a task of its own: a caller that goes away (a client timeout, the proxy
giving up) does not cancel it, so the retry that follows finds it running or done; the
pipeline's own deadline bounds it. Only answers are kept: a failed run forgets its key, so a
retry runs again. The same key with another body is refused (``IdempotencyConflict``, a 422
naming the header): the key names one request, not a slot to reuse.

The record is per Ingress replica and in memory (bounded by ``max_keys``, oldest first): a
retry that Serve routes to another replica, or that comes after the replica restarted, runs
again. That rerun costs no paid summary twice once the first run stored its papers: memory
hands their summaries back.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")

WINDOW_S = 3600.0  # an hour: longer than any caller's retry loop
MAX_KEYS = 1000  # answers kept at most (tens of KB each: a few tens of MB at worst)


class IdempotencyConflict(ValueError):
    """The key was used before with another request body."""


@dataclass
class _Run(Generic[T]):
    fingerprint: str
    started: float
    answer: asyncio.Future[T]  # the run's task


def fingerprint(body: BaseModel) -> str:
    """What makes two requests the same: the validated body, canonically dumped."""
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


class IdempotentRuns(Generic[T]):
    """See the module docstring. ``clock`` is injected for tests."""

    def __init__(
        self,
        window_s: float = WINDOW_S,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self.max_keys = max_keys
        self._clock = clock
        self._runs: OrderedDict[str, _Run[T]] = OrderedDict()

    async def run(
        self, key: str, body: BaseModel, work: Callable[[], Awaitable[T]]
    ) -> tuple[T, bool]:
        """``work()``'s answer for this key, and whether it was a replay (run before)."""
        now, wanted = self._clock(), fingerprint(body)
        run = self._runs.get(key)
        if run is not None and now - run.started > self.window_s:
            del self._runs[key]
            run = None
        if run is not None and run.fingerprint != wanted:
            raise IdempotencyConflict("used before with another request body")
        replay = run is not None
        if run is None:
            run = _Run(wanted, now, asyncio.ensure_future(work()))
            run.answer.add_done_callback(lambda done: self._forget_failed(key, done))
            self._runs[key] = run
            while len(self._runs) > self.max_keys:
                self._runs.popitem(last=False)
        # Shielded: a caller that goes away must not cancel the run the others wait for.
        return await asyncio.shield(run.answer), replay

    def _forget_failed(self, key: str, done: asyncio.Future[T]) -> None:
        """A failure is not an answer: its key goes, so a retry runs again."""
        if done.cancelled() or done.exception() is not None:
            run = self._runs.get(key)
            if run is not None and run.answer is done:
                del self._runs[key]
