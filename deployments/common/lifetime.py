"""A replica's shutdown: what it holds (clients, stores, pools) released when Serve stops it.

Serve calls a deployment's ``__del__`` once at shutdown, on the replica's event loop, and
awaits the coroutine it returns. Python's garbage collector may call ``__del__`` again later,
anywhere; an ``async def __del__`` would leave it a coroutine that is never awaited (a warning
in every replica's log). ``on_shutdown`` makes a ``__del__`` that hands Serve the release once
and gives the collector nothing.

The Ingress is the exception: Serve's ingress wrapper awaits a user ``__del__`` only when it is
a coroutine function (it calls a plain one and drops what it returns), and its own ``__del__``
is already async; the Ingress wraps ``on_shutdown`` in an ``async def __del__``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

RELEASED = "_arm_released"


def on_shutdown(release: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Any]:
    """``__del__ = on_shutdown(release)``: Serve awaits ``release(self)`` at shutdown."""

    def __del__(self: Any) -> Awaitable[None] | None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return None  # the collector, off any loop: the process is going anyway
        if getattr(self, RELEASED, False):
            return None
        setattr(self, RELEASED, True)
        return release(self)

    return __del__
