"""Politeness: arXiv allows one connection at a time and one request every 3 seconds, across
every machine you run. ``IntervalGate`` enforces both for whoever holds it; the ``ArxivGate``
deployment holds the one gate of the whole application, and each ArxivFetcher replica reaches
it through a ``GateHandle``.

A gate that starts (a restarted replica, a redeploy) does not know when its predecessor last
let a request through, so its first turn waits a full interval; and a Retry-After hold-off is
kept in a ``HoldOffStore`` that outlives the process, so a restart honours it too."""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from deployments.common.logs import arm_logger, log_event

logger = arm_logger(__name__)

Clock = Callable[[], float]
ABANDONED_KEPT = 1024  # tickets of callers that gave up, remembered until their turn comes
Sleep = Callable[[float], Awaitable[None]]


class RequestGate(Protocol):
    """What ArxivClient needs: a permit per request, returned when the response is in."""

    async def acquire(self) -> tuple[int, float]:
        """Wait for a turn; returns (permit token, seconds waited)."""
        ...

    async def release(self, token: int, hold_off_s: float = 0.0) -> None:
        """End a turn; ``hold_off_s`` pushes the next turn further out (Retry-After)."""
        ...


class HoldOffStore(Protocol):
    """Where a gate keeps the wall-clock time (epoch seconds) before which no turn may start,
    when arXiv asked for a hold-off, so that the next gate process reads it."""

    def load(self) -> float | None: ...

    def save(self, not_before: float) -> None: ...


class IntervalGate:
    """One holder at a time, and each turn starts >= ``min_interval_s`` after the last one ended.

    Measuring from the end of the previous request (not its start) keeps requests apart as
    arXiv sees them, whatever the network latency. A holder that never releases (its replica
    died) loses the permit after ``lease_s``.

    With a ``hold_off`` store, each release records when the next turn may start
    (``wall_clock``, epoch seconds), and a gate that finds a predecessor's record waits a full
    interval, or out the hold-off it recorded when that is longer, before its first turn.
    """

    def __init__(
        self,
        min_interval_s: float = 3.0,
        *,
        lease_s: float = 120.0,
        hold_off: HoldOffStore | None = None,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.min_interval_s = min_interval_s
        self.lease_s = lease_s
        self._hold_off = hold_off
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._cond = asyncio.Condition()
        self._holder: int | None = None
        self._holder_ticket: str | None = None
        # Tickets whose callers gave up before their grant was made (see ``abandon``); bounded.
        self._abandoned: OrderedDict[str, None] = OrderedDict()
        self._lease_deadline = 0.0
        self._next_start = -math.inf
        self._tokens = itertools.count(1)
        self.turns = 0
        self.waiting = 0
        if hold_off is not None:
            self._follow_predecessor(hold_off)

    def _follow_predecessor(self, hold_off: HoldOffStore) -> None:
        """A gate ran before this one (the store has its record): it may have let a request
        through a moment ago, or been told to hold off. Wait a full interval, or out the
        hold-off it recorded, before the first turn; then leave this gate's own record."""
        try:
            not_before = hold_off.load()
        except Exception:  # unknown: assume a predecessor let a request through just now
            log_event(logger, logging.ERROR, "arxiv.gate.hold_off.unreadable", exc_info=True)
            not_before = self._wall_clock()
        if not_before is not None:
            first_in = max(self.min_interval_s, not_before - self._wall_clock())
            self._next_start = self._clock() + first_in
            log_event(
                logger, logging.INFO, "arxiv.gate.restarted", first_turn_in_s=round(first_in, 2)
            )
        self._keep(max(self._wall_clock(), not_before or 0.0))

    def _keep(self, not_before: float) -> None:
        if self._hold_off is None:
            return
        try:  # a small write, at most one per arXiv request
            self._hold_off.save(not_before)
        except Exception:
            log_event(logger, logging.ERROR, "arxiv.gate.hold_off.unsaved", exc_info=True)

    async def acquire(self, ticket: str | None = None) -> tuple[int, float]:
        """Wait until free and the interval has passed; returns (token, seconds waited).
        ``ticket``: the caller's name for this turn, for ``abandon``."""
        began = self._clock()
        self.waiting += 1
        try:
            return await self._acquire(began, ticket)
        finally:
            self.waiting -= 1

    async def _acquire(self, began: float, ticket: str | None) -> tuple[int, float]:
        async with self._cond:
            while self._holder is not None:
                remaining = self._lease_deadline - self._clock()
                if remaining <= 0:
                    log_event(
                        logger, logging.WARNING, "arxiv.gate.lease_expired", token=self._holder
                    )
                    self._release_locked(self._holder, 0.0)
                    break
                try:
                    await asyncio.wait_for(self._cond.wait(), timeout=remaining)
                except TimeoutError:
                    pass
                except asyncio.CancelledError:
                    # A notify meant for this waiter dies with it (before Python 3.13): pass
                    # it on, or the next waiter sleeps until the lease ends.
                    if self._holder is None and self._cond.locked():
                        self._cond.notify()
                    raise
            token = next(self._tokens)
            self._holder, self._holder_ticket = token, ticket
            self._lease_deadline = self._clock() + self.lease_s
            wait = self._next_start - self._clock()
            if wait > 0:
                # Sleep while holding the permit: no one else may start meanwhile. A caller
                # that gives up (its request cancelled) hands the permit back at once.
                try:
                    await self._sleep(wait)
                except BaseException:
                    self._release_locked(token, 0.0, used=False)
                    raise
            if ticket is not None and ticket in self._abandoned:
                del self._abandoned[ticket]  # its caller is gone: the turn goes to the next
                self._release_locked(token, 0.0, used=False)
            else:
                self.turns += 1
        return token, self._clock() - began

    async def release(self, token: int, hold_off_s: float = 0.0) -> None:
        async with self._cond:
            self._release_locked(token, hold_off_s)

    async def abandon(self, ticket: str) -> None:
        """The caller that asked for a turn under ``ticket`` is gone: if the turn is granted,
        it ends now (no request went out, so the interval does not restart); if it is still to
        come, it ends as soon as it is granted."""
        async with self._cond:
            if self._holder is not None and self._holder_ticket == ticket:
                self._release_locked(self._holder, 0.0, used=False)
                return
            self._abandoned[ticket] = None
            while len(self._abandoned) > ABANDONED_KEPT:
                self._abandoned.popitem(last=False)

    def _release_locked(self, token: int, hold_off_s: float, *, used: bool = True) -> None:
        """End turn ``token``. ``used``: a request went out in it, so the next one waits the
        interval (or ``hold_off_s``) from now; an unused turn leaves the schedule as it was."""
        if self._holder != token:
            return  # expired and handed on already
        self._holder = self._holder_ticket = None
        if used:
            self._next_start = self._clock() + max(self.min_interval_s, hold_off_s)
            self._keep(self._wall_clock() + max(self.min_interval_s, hold_off_s))
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


class GateHandle:
    """``RequestGate`` over the ArxivGate deployment's handle.

    A search cancelled while it waits for its turn (its caller went away, its deadline passed)
    cancels the wait in the gate, and tells the gate its ticket is abandoned: a turn granted
    just before (its answer on the wire, which Serve's cancel drops) ends at once instead of
    being held until the lease ends (two minutes without an arXiv request, for everyone).
    """

    def __init__(self, handle: Any) -> None:  # the ArxivGate's DeploymentHandle
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
            log_event(
                logger, logging.WARNING, "arxiv.gate.abandon_failed", ticket=ticket, error=repr(exc)
            )

    async def release(self, token: int, hold_off_s: float = 0.0) -> None:
        await self._handle.release.remote(token, hold_off_s)
