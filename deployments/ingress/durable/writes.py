"""``DurableWrites``: a memory write that is not lost. It goes to the MemoryWriter within a
bound; one that fails or times out is kept in the ``MemoryOutbox`` and handed over again until it
lands. The only loss is a full outbox, and the caller is told (a warning in its answer). Pure
Python: no Ray, no Serve."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from arm_client.models import ArmWarning
from deployments.common.logs import arm_logger, log_event
from deployments.ingress.durable.outbox import MemoryOutbox, drain_forever, drain_once
from models.contracts import NewMemory
from models.errors import unwrap

logger = arm_logger(__name__)


class DurableWrites:
    """Memory writes that are not lost: each goes to ``write`` (the MemoryWriter) within
    ``timeout_s``; one that fails or times out is kept in ``outbox`` (None: dropped, with a
    warning) and handed over again by ``drain_forever`` until it lands."""

    def __init__(
        self,
        write: Callable[[list[NewMemory], str | None], Awaitable[object]],
        outbox: MemoryOutbox | None,
        timeout_s: float = 10.0,
    ) -> None:
        self.write = write
        self.outbox = outbox
        self.timeout_s = timeout_s
        # SQLite blocks: its calls run on this one thread, never on the event loop.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")

    async def _offload(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def store(
        self, items: list[NewMemory], query: str | None
    ) -> tuple[int, ArmWarning | None]:
        """Write now or keep for later: (papers kept for later, a warning for the caller)."""
        if not items:
            return 0, None
        try:
            await asyncio.wait_for(self.write(items, query), self.timeout_s)
            return 0, None
        except Exception as exc:
            why = str(unwrap(exc)) or f"no answer within {self.timeout_s:g} s"
        arxiv_ids = ",".join(item.paper.arxiv_id for item in items)
        refused = "none configured"  # why the outbox did not keep it
        if self.outbox is not None:
            try:
                await self._offload(self.outbox.add, items, query)
                refused = ""
            except Exception as full:  # OutboxFull, or its disk
                refused = str(full) or type(full).__name__
        if refused:
            log_event(
                logger,
                logging.ERROR,
                "memory.write.lost",
                papers=len(items),
                arxiv_ids=arxiv_ids,
                reason=why,
                outbox=refused,
            )
            message = f"memory write failed, results not remembered: {why}"
            if self.outbox is not None:
                message += f"; outbox: {refused}"
            return 0, ArmWarning(code="memory_write_lost", stage="memory", message=message)
        log_event(
            logger,
            logging.WARNING,
            "memory.write.deferred",
            papers=len(items),
            arxiv_ids=arxiv_ids,
            reason=why,
        )
        pending = (
            f"memory write pending: the store did not take it ({why}); it is kept and "
            "written as soon as the store answers"
        )
        return len(items), ArmWarning(code="memory_write_pending", stage="memory", message=pending)

    async def drain_forever(self, report: Callable[[int, float], None] | None = None) -> None:
        """The outbox's entries handed over until they land (cancel to stop); after each
        round, ``report`` is given the outbox's ``depth``."""
        outbox = self.outbox
        if outbox is None:
            return

        async def drain_and_report() -> tuple[int, int]:
            result = await drain_once(
                outbox, self.write, timeout_s=self.timeout_s, offload=self._offload
            )
            if report is not None:
                report(*await self._offload(outbox.depth))
            return result

        await drain_forever(drain_and_report)

    def close(self) -> None:
        if self.outbox is not None:
            self._pool.submit(self.outbox.close).result(timeout=10)
        self._pool.shutdown(wait=False)
