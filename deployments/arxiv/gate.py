"""Politeness: arXiv allows one connection at a time and one request every 3 seconds, across
every machine you run. ``IntervalGate`` enforces both for whoever holds it; the ``ArxivGate``
deployment holds the one gate of the whole application."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from deployments.common.logs import arm_logger

logger = arm_logger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class RequestGate(Protocol):
    """What ArxivClient needs: a permit per request, returned when the response is in."""

    async def acquire(self) -> tuple[int, float]:
        """Wait for a turn; returns (permit token, seconds waited)."""
        ...

    async def release(self, token: int, hold_off_s: float = 0.0) -> None:
        """End a turn; ``hold_off_s`` pushes the next turn further out (Retry-After)."""
        ...


class IntervalGate:
    """One holder at a time, and each turn starts >= ``min_interval_s`` after the last one ended.

    Measuring from the end of the previous request (not its start) keeps requests apart as
    arXiv sees them, whatever the network latency. A holder that never releases (its replica
    died) loses the permit after ``lease_s``.
    """

    def __init__(
        self,
        min_interval_s: float = 3.0,
        *,
        lease_s: float = 120.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.min_interval_s = min_interval_s
        self.lease_s = lease_s
        self._clock = clock
        self._sleep = sleep
        self._cond = asyncio.Condition()
        self._holder: int | None = None
        self._lease_deadline = 0.0
        self._next_start = -math.inf
        self._tokens = itertools.count(1)
        self.turns = 0
        self.waiting = 0

    async def acquire(self) -> tuple[int, float]:
        """Wait until free and the interval has passed; returns (token, seconds waited)."""
        began = self._clock()
        self.waiting += 1
        try:
            return await self._acquire(began)
        finally:
            self.waiting -= 1

    async def _acquire(self, began: float) -> tuple[int, float]:
        async with self._cond:
            while self._holder is not None:
                remaining = self._lease_deadline - self._clock()
                if remaining <= 0:
                    logger.warning("arXiv gate: permit %s expired unreleased", self._holder)
                    self._release_locked(self._holder, 0.0)
                    break
                try:
                    await asyncio.wait_for(self._cond.wait(), timeout=remaining)
                except TimeoutError:
                    pass
            token = next(self._tokens)
            self._holder = token
            self._lease_deadline = self._clock() + self.lease_s
            wait = self._next_start - self._clock()
            if wait > 0:
                # Sleep while holding the permit: no one else may start meanwhile. A caller
                # that gives up (its request cancelled) hands the permit back at once.
                try:
                    await self._sleep(wait)
                except BaseException:
                    self._release_locked(token, 0.0)
                    raise
            self.turns += 1
        return token, self._clock() - began

    async def release(self, token: int, hold_off_s: float = 0.0) -> None:
        async with self._cond:
            self._release_locked(token, hold_off_s)

    def _release_locked(self, token: int, hold_off_s: float) -> None:
        if self._holder != token:
            return  # expired and handed on already
        self._holder = None
        self._next_start = self._clock() + max(self.min_interval_s, hold_off_s)
        self._cond.notify()

    def check(self) -> None:
        """Raise when the gate is wedged: callers wait while a permit is held a whole lease
        past its expiry, which a waiter would have reclaimed had its event loop run."""
        overdue = self._clock() - self._lease_deadline
        if self._holder is not None and self.waiting and overdue > self.lease_s:
            raise RuntimeError(
                f"arXiv gate wedged: permit {self._holder} overdue by {overdue:.0f}s, "
                f"{self.waiting} waiting"
            )
