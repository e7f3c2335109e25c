"""``ArmClient`` (sync) and ``AsyncArmClient``: the arm's HTTP API as typed methods.

Both build their calls with the same ``_Calls`` and send them through ``_core`` (parsing and
retry decisions), so the two differ only in how they wait and send. Errors: ``arm_client.errors``.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx

from arm_client import _core
from arm_client._core import Call, Retries
from arm_client.errors import ArmApiError
from arm_client.models import (
    CapabilityManifest,
    HealthStatus,
    MemorySearchRequest,
    MemorySearchResponse,
    PaperRecord,
    ReadRequest,
    ReadResponse,
    ResearchRequest,
    ResearchResponse,
)

T = TypeVar("T")
DEFAULT_URL = "http://127.0.0.1:8000"
USER_AGENT = "research-arm-client/0.1.0"

__all__ = ["DEFAULT_URL", "ArmClient", "AsyncArmClient"]


class _Calls:
    """Each API method as a ``Call``: its request validated and built, how to read the answer."""

    @staticmethod
    def execute(
        query: str,
        *,
        max_papers: int,
        start_date: date | str | None,
        end_date: date | str | None,
        categories: Sequence[str] | None,
        include_summaries: bool,
        citation_style: str,
        idempotency_key: str | None,
        include_evidence: bool = False,
        evidence_per_paper: int = 3,
    ) -> Call[ResearchResponse]:
        request = ResearchRequest.model_validate(
            {
                "query": query,
                "max_papers": max_papers,
                "start_date": start_date,
                "end_date": end_date,
                "categories": list(categories) if categories is not None else None,
                "include_summaries": include_summaries,
                "citation_style": citation_style,
                "include_evidence": include_evidence,
                "evidence_per_paper": evidence_per_paper,
            }
        )
        # One key for every attempt: a retry after a lost answer gets the first run's response
        # (or waits for it) instead of running the pipeline again.
        key = idempotency_key or str(uuid.uuid4())
        return Call(
            "POST",
            "/execute",
            _core.model_parser(ResearchResponse),
            json=_core.dump(request),
            headers={"Idempotency-Key": key},
        )

    @staticmethod
    def search_memory(
        query: str,
        limit: int,
        start_date: date | str | None,
        end_date: date | str | None,
        scope: str = "papers",
    ) -> Call[MemorySearchResponse]:
        request = MemorySearchRequest.model_validate(
            {
                "query": query,
                "limit": limit,
                "start_date": start_date,
                "end_date": end_date,
                "scope": scope,
            }
        )
        return Call(
            "POST",
            "/memory/search",
            _core.model_parser(MemorySearchResponse),
            json=_core.dump(request),
        )

    @staticmethod
    def read(arxiv_id: str, question: str | None, start: int, max_chars: int) -> Call[ReadResponse]:
        request = ReadRequest.model_validate(
            {"arxiv_id": arxiv_id, "question": question, "start": start, "max_chars": max_chars}
        )
        return Call("POST", "/read", _core.model_parser(ReadResponse), json=_core.dump(request))

    @staticmethod
    def health() -> Call[HealthStatus]:
        # A 503 that carries a HealthStatus is the arm saying it is down: an answer, not an error.
        return Call(
            "GET", "/health", _core.model_parser(HealthStatus), answer_statuses=frozenset({503})
        )

    @staticmethod
    def capabilities() -> Call[CapabilityManifest]:
        return Call("GET", "/capabilities", _core.model_parser(CapabilityManifest))

    @staticmethod
    def get_paper(arxiv_id: str) -> Call[PaperRecord]:
        return Call("GET", _paper_path(arxiv_id), _core.model_parser(PaperRecord))

    @staticmethod
    def forget_paper(arxiv_id: str) -> Call[None]:
        # Not retried after a lost answer: the repeat of a DELETE that did happen would say 404.
        return Call("DELETE", _paper_path(arxiv_id), _core.no_content, retry_on_network=False)


def _paper_path(arxiv_id: str) -> str:
    arxiv_id = arxiv_id.strip()
    if not arxiv_id:
        raise ValueError("arxiv_id is empty")
    return "/papers/" + quote(arxiv_id, safe="/")  # old-style ids keep their slash: hep-ex/0406020


class _Base:
    """Settings common to both clients."""

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        timeout: float,
        retry_budget_s: float,
        max_retries: int,
        clock: Callable[[], float],
        rng: random.Random | None,
    ) -> None:
        self.base_url = (base_url or os.environ.get("ARM_URL") or DEFAULT_URL).rstrip("/")
        self._api_key = api_key if api_key is not None else os.environ.get("ARM_API_KEY")
        self.timeout = timeout
        self.retry_budget_s = retry_budget_s
        self.max_retries = max_retries
        self._clock = clock
        self._rng = rng or random.Random()

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _retries(self) -> Retries:
        return Retries(self.retry_budget_s, self.max_retries, clock=self._clock, rng=self._rng)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"


class ArmClient(_Base):
    """The arm's API, blocking. Use as a context manager, or call ``close()``.

    ``base_url``: default ``$ARM_URL``, else http://127.0.0.1:8000. ``api_key``: default
    ``$ARM_API_KEY`` (sent as a bearer token). ``timeout``: seconds per attempt.
    ``retry_budget_s``: no retry starts, and no wait lasts, past this many seconds after the
    call began. ``transport``: an httpx transport (tests pass ``httpx.MockTransport``).
    ``sleep``/``clock``/``rng``: how the client waits, tells time and draws jitter (tests pass
    fakes).
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        retry_budget_s: float = 60.0,
        max_retries: int = 6,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout, retry_budget_s, max_retries, clock, rng)
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url, headers=self._headers(), timeout=timeout, transport=transport
        )

    def execute(
        self,
        query: str,
        *,
        max_papers: int = 5,
        start_date: date | str | None = None,
        end_date: date | str | None = None,
        categories: Sequence[str] | None = None,
        include_summaries: bool = True,
        citation_style: str = "apa",
        idempotency_key: str | None = None,
        include_evidence: bool = False,
        evidence_per_paper: int = 3,
    ) -> ResearchResponse:
        """Find, rank, summarise and cite papers (``POST /execute``)."""
        return self._send(
            _Calls.execute(
                query,
                max_papers=max_papers,
                start_date=start_date,
                end_date=end_date,
                categories=categories,
                include_summaries=include_summaries,
                citation_style=citation_style,
                idempotency_key=idempotency_key,
                include_evidence=include_evidence,
                evidence_per_paper=evidence_per_paper,
            )
        )

    def search_memory(
        self,
        query: str,
        limit: int = 10,
        start_date: date | str | None = None,
        end_date: date | str | None = None,
        scope: str = "papers",
    ) -> MemorySearchResponse:
        """Papers the arm has stored, most similar first (``POST /memory/search``); with
        ``scope="passages"`` the passages of the full texts it has read."""
        return self._send(_Calls.search_memory(query, limit, start_date, end_date, scope))

    def read(
        self, arxiv_id: str, question: str | None = None, start: int = 0, max_chars: int = 12_000
    ) -> ReadResponse:
        """A window of a paper's full text, its outline and passages for ``question``
        (``POST /read``); page on with ``start=response.next_start``."""
        return self._send(_Calls.read(arxiv_id, question, start, max_chars))

    def health(self) -> HealthStatus:
        """The arm's state (``GET /health``); a down arm's 503 is returned, not raised."""
        return self._send(_Calls.health())

    def capabilities(self) -> CapabilityManifest:
        """Endpoints, schemas, limits and models (``GET /capabilities``)."""
        return self._send(_Calls.capabilities())

    def get_paper(self, arxiv_id: str) -> PaperRecord:
        """What memory holds of one paper (``GET /papers/{arxiv_id}``); 404: NotFoundError."""
        return self._send(_Calls.get_paper(arxiv_id))

    def forget_paper(self, arxiv_id: str) -> None:
        """Remove one paper from memory (``DELETE /papers/{arxiv_id}``)."""
        self._send(_Calls.forget_paper(arxiv_id))

    def _send(self, call: Call[T]) -> T:
        retries = self._retries()
        while True:
            headers = call.attempt_headers()
            try:
                response = self._http.request(
                    call.method, call.path, json=call.json, headers=headers
                )
            except httpx.TransportError as exc:
                error: ArmApiError = _core.network_error(exc, call, headers["X-Request-ID"])
                if not call.retry_on_network:
                    raise error from exc
                cause: BaseException | None = exc
            else:
                try:
                    return call.parse(response)
                except ArmApiError as exc:
                    error, cause = exc, exc.__cause__
            wait = retries.wait_before_retry(error)
            if wait is None:
                raise error from cause
            self._sleep(wait)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncArmClient(_Base):
    """The arm's API for asyncio: the same methods as ``ArmClient``, awaited.

    Arguments as ``ArmClient``'s; ``transport`` is an ``httpx.AsyncBaseTransport`` and
    ``sleep`` a coroutine function (default ``asyncio.sleep``).
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        retry_budget_s: float = 60.0,
        max_retries: int = 6,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout, retry_budget_s, max_retries, clock, rng)
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=self._headers(), timeout=timeout, transport=transport
        )

    async def execute(
        self,
        query: str,
        *,
        max_papers: int = 5,
        start_date: date | str | None = None,
        end_date: date | str | None = None,
        categories: Sequence[str] | None = None,
        include_summaries: bool = True,
        citation_style: str = "apa",
        idempotency_key: str | None = None,
        include_evidence: bool = False,
        evidence_per_paper: int = 3,
    ) -> ResearchResponse:
        """Find, rank, summarise and cite papers (``POST /execute``)."""
        return await self._send(
            _Calls.execute(
                query,
                max_papers=max_papers,
                start_date=start_date,
                end_date=end_date,
                categories=categories,
                include_summaries=include_summaries,
                citation_style=citation_style,
                idempotency_key=idempotency_key,
                include_evidence=include_evidence,
                evidence_per_paper=evidence_per_paper,
            )
        )

    async def search_memory(
        self,
        query: str,
        limit: int = 10,
        start_date: date | str | None = None,
        end_date: date | str | None = None,
        scope: str = "papers",
    ) -> MemorySearchResponse:
        """Papers the arm has stored, most similar first (``POST /memory/search``); with
        ``scope="passages"`` the passages of the full texts it has read."""
        return await self._send(_Calls.search_memory(query, limit, start_date, end_date, scope))

    async def read(
        self, arxiv_id: str, question: str | None = None, start: int = 0, max_chars: int = 12_000
    ) -> ReadResponse:
        """As ``ArmClient.read``."""
        return await self._send(_Calls.read(arxiv_id, question, start, max_chars))

    async def health(self) -> HealthStatus:
        """The arm's state (``GET /health``); a down arm's 503 is returned, not raised."""
        return await self._send(_Calls.health())

    async def capabilities(self) -> CapabilityManifest:
        """Endpoints, schemas, limits and models (``GET /capabilities``)."""
        return await self._send(_Calls.capabilities())

    async def get_paper(self, arxiv_id: str) -> PaperRecord:
        """What memory holds of one paper (``GET /papers/{arxiv_id}``); 404: NotFoundError."""
        return await self._send(_Calls.get_paper(arxiv_id))

    async def forget_paper(self, arxiv_id: str) -> None:
        """Remove one paper from memory (``DELETE /papers/{arxiv_id}``)."""
        await self._send(_Calls.forget_paper(arxiv_id))

    async def _send(self, call: Call[T]) -> T:
        retries = self._retries()
        while True:
            headers = call.attempt_headers()
            try:
                response = await self._http.request(
                    call.method, call.path, json=call.json, headers=headers
                )
            except httpx.TransportError as exc:
                error: ArmApiError = _core.network_error(exc, call, headers["X-Request-ID"])
                if not call.retry_on_network:
                    raise error from exc
                cause: BaseException | None = exc
            else:
                try:
                    return call.parse(response)
                except ArmApiError as exc:
                    error, cause = exc, exc.__cause__
            wait = retries.wait_before_retry(error)
            if wait is None:
                raise error from cause
            await self._sleep(wait)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
