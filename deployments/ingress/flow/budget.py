"""A request's time: the deadline every work request is answered within, and each stage
call's share of it.

A stage that hangs (a stopped process, a wedged model, a store that accepts connections and
says nothing) is given up on after its share, and counts as that stage failing: the pipeline
turns it into a 503 for what a ranking needs and into a warning for the rest. Shares, not a
timeout per stage, so that a shorter deadline shortens every wait with it. The memory write
keeps its own bound (``memory_write_timeout_s``), after which the outbox holds it.

The shares bound each call; they add up to more than the whole, which the deadline bounds: a
request whose every stage is slow, each within its share, ends with a 503 ``overloaded``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from models.errors import DeadlineExpired, StageError

T = TypeVar("T")

# Fractions of the deadline, per step of the request flow.
STAGE_SHARES: dict[str, float] = {
    # The arXiv API's gate queue and retries live here: its client's own bounds (30 s an
    # attempt, 20 s of backoff) end first and answer arXiv's 503 with its Retry-After.
    "search": 0.9,
    # Each call: the query's vector, then the new papers'. A cold burst queues texts behind
    # each other on a CPU Embedder (about 10 s of MiniLM for 16 requests on 2 slow cores).
    "embed": 0.4,
    "memory_lookup": 0.1,
    "summarize": 0.35,  # all of a request's summaries, made at once
    # The Reader answers at its own deadline (EVIDENCE_DEADLINE_S, cut to under half of the
    # request's): papers not read by then come back without evidence.
    "evidence": 0.5,
}


class StageTimeout(StageError):
    """A stage call that did not answer within its share of the request deadline."""

    def __init__(self, stage: str, step: str, timeout_s: float) -> None:
        super().__init__(f"the {stage} gave no answer to {step} within {timeout_s:g} s", stage)
        self.step = step
        self.timeout_s = timeout_s


def abandon(task: asyncio.Future[Any]) -> None:
    """Stop a task whose result is no longer wanted; its error, if any, is not reported."""
    task.cancel()
    task.add_done_callback(lambda done: done.cancelled() or done.exception())


class RequestBudget:
    """``deadline_s`` (s) for a whole request, and the stage calls' shares of it."""

    def __init__(self, deadline_s: float = 60.0) -> None:
        self.deadline_s = deadline_s

    def share_s(self, step: str) -> float:
        """Seconds a call of ``step`` may take (``STAGE_SHARES``)."""
        return self.deadline_s * STAGE_SHARES[step]

    async def within_deadline(self, work: Awaitable[T]) -> T:
        """``work``'s result, or ``DeadlineExpired`` (a 503 ``overloaded`` with Retry-After) at the
        deadline."""
        try:
            async with asyncio.timeout(self.deadline_s) as deadline:
                return await work
        except TimeoutError:
            if not deadline.expired():  # a timeout of the work's own, not the deadline
                raise
            raise DeadlineExpired(
                f"no answer within {self.deadline_s:g} s: the arm is busy or a stage is slow",
                retry_after_s=min(30.0, self.deadline_s / 2),
            ) from None

    async def bounded(self, call: Awaitable[T], step: str, stage: str) -> T:
        """``call`` within ``step``'s share, else ``StageTimeout``: the call is cancelled (and
        Serve cancels it in the replica)."""
        timeout_s = self.share_s(step)
        bound = asyncio.timeout(timeout_s)
        try:
            async with bound:
                return await call
        except TimeoutError:
            if not bound.expired():  # not this bound's: a timeout of the call's own
                raise
            raise StageTimeout(stage, step, timeout_s) from None

    async def all_bounded(
        self, calls: Sequence[Awaitable[T]], step: str, stage: str
    ) -> list[T | BaseException]:
        """``calls`` at once, within one share of ``step``: each one's result, its error, or a
        ``StageTimeout`` for one still running at the end of the share (then cancelled)."""
        tasks = [asyncio.ensure_future(call) for call in calls]
        late: set[asyncio.Future[T]] = set()
        try:
            if tasks:
                _, late = await asyncio.wait(tasks, timeout=self.share_s(step))
        finally:
            for task in tasks:  # past the share, or the request itself cancelled
                if not task.done():
                    abandon(task)
        timed_out = StageTimeout(stage, step, self.share_s(step))
        # A late task was cancelled: ask it for no exception (that would raise).
        return [timed_out if t in late else (t.exception() or t.result()) for t in tasks]
