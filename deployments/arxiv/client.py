"""``ArxivClient``: search arXiv through a gate, with retries and a result cache.

Errors raised (from ``models.errors``)::

    ArxivQueryError   arXiv's error feed (HTTP 400 or 200); the query has no searchable words
    ArxivUnavailable  timeouts, connection errors, 406/429/5xx, "Rate exceeded." bodies, glitchy
                      empty pages, bodies that are not a feed (truncated, HTML, a DTD, over the
                      size cap, undecodable), after retries

httpx's errors are translated here, once, with ``raise ... from exc``; the transport is
injected, so tests use ``httpx.MockTransport`` or the local stand-in.

arXiv ANDs every ``all:`` term, so a long question often finds little: when the ANDed query
finds fewer than wanted, one more request (through the same gate, with the same retries) sends
the terms ORed, and its papers fill the result after the ANDed ones. A failure of that second
request never fails the search: the ANDed results are valid on their own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Callable

import httpx

from deployments.arxiv.atom import MAX_FEED_BYTES, FeedPage, FeedParseError, parse_feed
from deployments.arxiv.attempts import NO_OBSERVER, ArxivObserver, Retryable, refusal
from deployments.arxiv.gate import Clock, IntervalGate, RequestGate, Sleep
from deployments.arxiv.query import build_fallback_query, build_search_query, query_terms
from deployments.common.caches import LRUCache
from deployments.common.logs import arm_logger, log_event
from models.contracts import SearchRequest, SearchResult
from models.errors import ArxivQueryError, ArxivUnavailable
from models.paper import Paper

logger = arm_logger(__name__)

USER_AGENT = "research-arm/0.1 (Ray Serve research agent; +https://github.com/research-arm)"


@dataclasses.dataclass
class _Cost:
    """What the requests of one search cost, summed over its requests (kept when one fails)."""

    requests: int = 0
    retries: int = 0
    gate_wait_s: float = 0.0


def _merge(first: list[Paper], extra: list[Paper], limit: int) -> list[Paper]:
    """``first`` in its order, then the papers of ``extra`` not in it (by arXiv id), at most
    ``limit`` in all."""
    merged = list(first[:limit])
    seen = {p.arxiv_id for p in merged}
    for paper in extra:
        if len(merged) >= limit:
            break
        if paper.arxiv_id not in seen:
            seen.add(paper.arxiv_id)
            merged.append(paper)
    return merged


class ArxivClient:
    """Search arXiv through a gate, with retries and a result cache.

    Defaults are arXiv's published limits: ``min_interval`` 3 s lives in the gate,
    ``num_retries=3`` with exponential backoff from ``backoff_base_s=2.0`` plus jitter. A caller
    is waiting, so one wait is at most ``max_backoff_s`` (10 s) and all of them together at most
    ``retry_budget_s`` (20 s): beyond that (a long Retry-After, say) it fails fast with
    ``ArxivUnavailable`` carrying arXiv's Retry-After, which the ingress turns into a 503.
    ``timeout_s`` bounds one attempt, first byte sent to last byte read; a body over
    ``max_body_bytes`` (bytes, decoded) is refused as soon as it says so or gets there.
    Results are cached per normalised query for ``cache_ttl_s`` (arXiv changes once a day).
    ``fallback=True``: when the ANDed query of two or more terms finds fewer than
    ``max_results``, one more request ORs the terms (``False``: AND only, one request).
    """

    def __init__(
        self,
        base_url: str = "https://export.arxiv.org/api/query",
        *,
        gate: RequestGate | None = None,
        num_retries: int = 3,
        backoff_base_s: float = 2.0,
        max_backoff_s: float = 10.0,
        retry_budget_s: float = 20.0,
        timeout_s: float = 30.0,
        max_body_bytes: int = MAX_FEED_BYTES,
        cache_ttl_s: float = 24 * 3600.0,
        cache_size: int = 2048,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        jitter: Callable[[], float] = random.random,
        fallback: bool = True,
        observer: ArxivObserver = NO_OBSERVER,
    ) -> None:
        self.base_url = base_url
        self.observer = observer
        self.fallback = fallback
        self.gate: RequestGate = gate or IntervalGate(3.0)
        self.num_retries = num_retries
        self.backoff_base_s = backoff_base_s
        self.max_backoff_s = max_backoff_s
        self.retry_budget_s = retry_budget_s
        self.timeout_s = timeout_s
        self.max_body_bytes = max_body_bytes
        self._sleep = sleep
        self._jitter = jitter
        self.cache: LRUCache[tuple[str, int], SearchResult] = LRUCache(
            cache_size, ttl_s=cache_ttl_s, clock=clock
        )
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            headers={"User-Agent": USER_AGENT, "Accept": "application/atom+xml"},
            follow_redirects=True,
        )

    def tune(self, *, num_retries: int, cache_ttl_s: float, cache_size: int) -> None:
        """Live changes (the fetcher's ``user_config``); cached results are kept within the
        new limits."""
        self.num_retries = num_retries
        self.cache.resize(cache_size, ttl_s=cache_ttl_s)

    @property
    def is_closed(self) -> bool:
        return self._http.is_closed

    async def aclose(self) -> None:
        await self._http.aclose()

    async def search(self, request: SearchRequest) -> SearchResult:
        """Papers for free text, sorted by arXiv's relevance; cached per normalised query.
        ``request.categories``: only papers in any of them (``cat:`` clauses of the query
        itself); its ``query_vector`` is not needed here.

        When the ANDed query finds fewer than ``max_results`` and has two or more terms, the
        ORed fallback query fills the rest (see the module docstring)."""
        text, max_results = request.text, request.max_results
        dates_and_categories = (request.start_date, request.end_date, request.categories)
        query = build_search_query(text, *dates_and_categories)
        key = (query, max_results)
        cached = self.cache.get(key)
        if cached is not None:
            return cached.copy(cache_hit=True, requests=0, retries=0, gate_wait_s=0.0)
        cost = _Cost()
        page = await self._fetch_with_retries(self._params(query, max_results), cost)
        papers, total, used = page.papers, page.total_results, query
        fell_back, cacheable = False, True
        if self.fallback and page.total_results < max_results and len(query_terms(text)) >= 2:
            loose = build_fallback_query(text, *dates_and_categories)
            log_event(
                logger,
                logging.INFO,
                "arxiv.search.fallback",
                query=query,
                found=total,
                wanted=max_results,
                fallback_query=loose,
            )
            try:
                extra = await self._fetch_with_retries(self._params(loose, max_results), cost)
            except ArxivUnavailable as exc:
                # The ANDed papers stand, uncached, so that a later search tries again.
                log_event(logger, logging.WARNING, "arxiv.fallback.unavailable", error=str(exc))
                cacheable = False
            except ArxivQueryError as exc:
                log_event(logger, logging.WARNING, "arxiv.fallback.refused", error=str(exc))
            else:
                papers = _merge(page.papers, extra.papers, max_results)
                total = max(total, extra.total_results)
                if len(papers) > len(page.papers):
                    used, fell_back = loose, True
        result = SearchResult(
            papers,
            total,
            used,
            requests=cost.requests,
            retries=cost.retries,
            gate_wait_s=cost.gate_wait_s,
            fallback=fell_back,
        )
        if cacheable:  # a copy: the caller may change what it gets
            self.cache.put(key, result.copy())
        return result

    @staticmethod
    def _params(query: str, max_results: int) -> dict[str, str]:
        return {
            "search_query": query,
            "start": "0",
            "max_results": str(max_results),
            "sortBy": "relevance",
            "sortOrder": "descending",
        }

    async def _fetch_with_retries(self, params: dict[str, str], cost: _Cost) -> FeedPage:
        """One page for ``params``, retried; what it costs is added to ``cost`` (also when it
        fails)."""
        requests = 0
        backed_off = 0.0
        last: Retryable | None = None
        for attempt in range(self.num_retries + 1):
            if attempt:
                delay = self._backoff(attempt, last.retry_after_s if last else None)
                if delay is None or backed_off + delay > self.retry_budget_s:
                    break  # longer than a caller should wait: answer 503 + Retry-After now
                backed_off += delay
                cost.retries += 1
                self.observer.retry()
                log_event(
                    logger,
                    logging.INFO,
                    "arxiv.retry",
                    attempt=attempt,
                    of=self.num_retries,
                    delay_s=round(delay, 2),
                    status=last.status if last else None,
                    reason=last.reason if last else "",
                )
                await self._sleep(delay)
            token, gate_wait = await self.gate.acquire()
            cost.gate_wait_s += gate_wait
            hold_off = 0.0
            try:
                requests += 1
                cost.requests += 1
                page = await self._fetch_once(params)
            except Retryable as exc:
                self.observer.request(exc.outcome, exc.throttle, gate_wait)
                last = exc
                hold_off = exc.retry_after_s or 0.0
                continue
            except ArxivQueryError:
                self.observer.request("bad_request", None, gate_wait)
                raise
            except ArxivUnavailable:
                self.observer.request("other", None, gate_wait)
                raise
            except asyncio.CancelledError:  # its caller gave up (the Ingress's deadline)
                self.observer.request("cancelled", None, gate_wait)
                raise
            else:
                self.observer.request("ok", None, gate_wait)
                return page
            finally:
                # Retry-After applies to everyone: the gate holds the next turn back that long.
                # Shielded: a search cancelled here still hands its turn back.
                await asyncio.shield(self.gate.release(token, hold_off))
        reason = last.reason if last else "no attempt made"
        hint = (last.retry_after_s if last and last.retry_after_s else None) or 30.0
        raise ArxivUnavailable(
            f"arXiv unavailable after {requests} request(s): {reason}",
            hint,
            status=last.status if last else None,
            attempts=requests,
            url=self.base_url,
        )

    def _backoff(self, attempt: int, retry_after_s: float | None) -> float | None:
        if retry_after_s is not None and retry_after_s > self.max_backoff_s:
            return None
        exponential = self.backoff_base_s * (2 ** (attempt - 1))
        delay = max(exponential, retry_after_s or 0.0) + self._jitter() * self.backoff_base_s
        return min(delay, self.max_backoff_s)

    async def _fetch_once(self, params: dict[str, str]) -> FeedPage:
        cap = self.max_body_bytes
        try:
            # httpx's timeout bounds each read, not the answer: a body dripped a few bytes per
            # read would hold the gate (and the caller) for as long as the server likes.
            async with (
                asyncio.timeout(self.timeout_s),
                self._http.stream("GET", self.base_url, params=params) as response,
            ):
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > cap:  # refused unread
                    raise Retryable(
                        f"response of {declared} bytes, larger than {cap}",
                        outcome="unreadable",
                        status=200,
                    )
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > cap:  # no Content-Length (or a false one): stop at the cap
                        raise Retryable(
                            f"response larger than {cap} bytes", outcome="unreadable", status=200
                        )
        except httpx.TimeoutException as exc:
            raise Retryable(f"timeout ({type(exc).__name__})", outcome="timeout") from exc
        except TimeoutError as exc:
            raise Retryable(
                f"timeout (no complete answer in {self.timeout_s:g}s)", outcome="timeout"
            ) from exc
        except httpx.TransportError as exc:
            raise Retryable(
                f"connection error ({type(exc).__name__}: {exc})", outcome="connection"
            ) from exc
        except httpx.RequestError as exc:
            # Not transport errors, but no answer either: a body its Content-Encoding cannot
            # decode (DecodingError), a redirect loop. Uncaught they were 500s with a trace.
            raise Retryable(
                f"unreadable answer ({type(exc).__name__}: {exc})", outcome="unreadable"
            ) from exc

        status = response.status_code
        refused = refusal(status, bytes(body[:64]), response.headers.get("Retry-After"))
        if refused is not None:
            raise refused
        if status == 400:
            message = f"arXiv answered HTTP 400 for {params['search_query']!r}"
            try:
                parse_feed(bytes(body))
            except ArxivQueryError as exc:  # the error feed: arXiv's own words
                message = exc.message
            except FeedParseError:
                pass
            raise ArxivQueryError(message, status=400, url=self.base_url)
        if status != 200:
            raise ArxivUnavailable(
                f"arXiv answered HTTP {status}", 60.0, status=status, attempts=1, url=self.base_url
            )
        try:
            page = parse_feed(bytes(body))
        except ArxivQueryError as exc:
            raise ArxivQueryError(exc.message, status=200, url=self.base_url) from None
        except FeedParseError as exc:
            raise Retryable(str(exc), outcome="unreadable", status=200) from exc
        if not page.papers and page.total_results > int(params["start"]):
            # arXiv's known glitch: HTTP 200, totalResults > 0, no entries. Ask again.
            raise Retryable(
                f"empty page although totalResults={page.total_results}",
                outcome="unreadable",
                status=200,
            )
        return page
