"""Continuous batching: the model takes whatever waits each time it frees up."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import numpy as np

from deployments.common.logs import arm_logger, log_event

logger = arm_logger(__name__)


class ContinuousBatcher:
    """Runs ``encode`` one call at a time; whatever arrives meanwhile goes into the next call.

    The model takes everything waiting each time it frees up (up to ``max_texts``), so a batch
    grows with the load instead of being cut by a timer: small and prompt when idle, large and
    efficient when busy. ``encode(texts) -> (vectors, texts actually encoded)``.
    """

    def __init__(
        self,
        encode: Callable[[list[str]], tuple[np.ndarray, int]],
        max_texts: int = 512,
        on_run: Callable[[int, int, float], None] | None = None,
    ) -> None:
        self._encode = encode
        self.max_texts = max_texts
        self._on_run = on_run  # (texts asked, texts encoded, seconds), called on the event loop
        self._waiting: list[tuple[list[str], asyncio.Future[np.ndarray]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.runs = 0
        self.encoded = 0
        self.busy_s = 0.0

    def check(self) -> None:
        """Raise when texts wait but no worker runs them (the worker task died)."""
        worker = self._worker
        if worker is not None and worker.done() and not worker.cancelled():
            error = worker.exception()
            if error is not None:
                raise RuntimeError(f"the batch worker died: {error!r}") from error
        if self._waiting and (worker is None or worker.done()):
            raise RuntimeError(f"{len(self._waiting)} call(s) wait and no batch worker runs")

    async def close(self) -> None:
        """Stop the worker; calls still waiting fail."""
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        for _, future in self._waiting:
            if not future.done():
                future.set_exception(RuntimeError("the embedder is shutting down"))
        self._waiting.clear()

    async def submit(self, texts: list[str]) -> np.ndarray:
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._waiting.append((texts, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            taken: list[tuple[list[str], asyncio.Future[np.ndarray]]] = []
            size = 0
            while self._waiting and (
                not taken or size + len(self._waiting[0][0]) <= self.max_texts
            ):
                item = self._waiting.pop(0)
                taken.append(item)
                size += len(item[0])
            flat = [text for texts, _ in taken for text in texts]
            started = time.perf_counter()
            try:
                vectors, encoded = await asyncio.to_thread(self._encode, flat)
            except Exception as exc:
                for _, future in taken:
                    if not future.done():
                        future.set_exception(exc)
                continue
            elapsed = time.perf_counter() - started
            self.runs += 1
            self.encoded += encoded
            self.busy_s += elapsed
            offset = 0
            for texts, future in taken:
                if not future.done():
                    future.set_result(vectors[offset : offset + len(texts)])
                offset += len(texts)
            if self._on_run is not None:
                try:  # the callers have their vectors; reporting must not stop the worker
                    self._on_run(len(flat), encoded, elapsed)
                except Exception:
                    log_event(logger, logging.ERROR, "embedder.run.report_failed", exc_info=True)
