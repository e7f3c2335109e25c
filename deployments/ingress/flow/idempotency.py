"""``Idempotency-Key`` on ``POST /execute``: a retry after a timeout never reruns the pipeline.

A request with a key is run once per replica: a repeat with the same key within ``window_s``
gets the stored answer, or, while the first is still running, waits for it (its own deadline
still holds) and gets the same answer. Only answers are kept: a failed run forgets its key, so
a retry runs again. The same key with another body is refused (``IdempotencyConflict``, a 422
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

WINDOW_S = 24 * 3600.0  # a day: longer than any caller's retry loop
MAX_KEYS = 10_000  # answers kept at most (tens of KB each)


class IdempotencyConflict(ValueError):
    """The key was used before with another request body."""


@dataclass
class _Run(Generic[T]):
    fingerprint: str
    started: float
    answer: asyncio.Future[T]


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
        if run is not None:
            if run.fingerprint != wanted:
                raise IdempotencyConflict("used before with another request body")
            # Shielded: this waiter's deadline must not cancel the first request's run.
            return await asyncio.shield(run.answer), True
        answer: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._runs[key] = _Run(wanted, now, answer)
        while len(self._runs) > self.max_keys:
            self._runs.popitem(last=False)
        try:
            result = await work()
        except BaseException as exc:
            self._runs.pop(key, None)  # a failure is not an answer: a retry runs again
            answer.set_exception(exc)
            answer.exception()  # retrieved: waiters re-raise it, nobody logs it unawaited
            raise
        answer.set_result(result)
        return result, False
