"""ArxivFetcher stage: search arXiv politely and parse its Atom feed.

Core (plain Python, testable without Ray):
    build_search_query  free text + dates -> arXiv ``search_query`` (user syntax neutralised)
    parse_feed          Atom bytes (2025+ backend and the classic one) -> FeedPage
    IntervalGate        one request at a time, >= min_interval_s between them
    TTLCache            results by normalised query, 24 h by default (arXiv changes daily)
    ArxivClient         httpx + gate + retries (backoff, jitter, Retry-After) + cache

Deployment (thin): ``ArxivFetcher`` wraps one ArxivClient per replica and shares one gate across
the whole Ray cluster through a named actor, so scaling the fetcher out cannot break arXiv's
terms (one connection, >= 3 s apart, for every machine you run).

Errors raised (all from ``deployments.errors``)::

    ArxivQueryError   arXiv's error feed (HTTP 400 or 200); the query has no searchable words
    ArxivUnavailable  timeouts, connection errors, 429/5xx, glitchy empty pages, after retries
"""

from __future__ import annotations

import asyncio
import email.utils
import itertools
import logging
import math
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
import httpx
from defusedxml import DefusedXmlException

from deployments.caches import TTLCache
from deployments.errors import ArxivQueryError, ArxivUnavailable
from models.paper import Paper

logger = logging.getLogger(__name__)

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"

MAX_FEED_BYTES = 20 * 1024 * 1024  # a 2000-entry page is ~5 MB; anything bigger is not arXiv
USER_AGENT = "research-arm/0.1 (Ray Serve research agent; +https://github.com/research-arm)"

# --------------------------------------------------------------------------------------------
# Query building
# --------------------------------------------------------------------------------------------

_FIELD_PREFIX = re.compile(
    r"\b(?:ti|au|abs|co|jr|cat|rn|id|all|submittedDate|lastUpdatedDate)\s*:", re.IGNORECASE
)
# A word: letters/digits, optionally joined by - or . ("self-supervised", "3.5", "GPT-4").
_WORD = re.compile(r"[^\W_]+(?:[-.][^\W_]+)*")
_OPERATORS = {"and", "or", "not", "andnot", "to"}
_STOPWORDS = {
    "a",
    "an",
    "the",
    "of",
    "in",
    "on",
    "for",
    "to",
    "with",
    "by",
    "at",
    "from",
    "as",
    "is",
    "are",
    "be",
    "and",
    "or",
    "about",
    "into",
    "via",
    "using",
    "what",
    "which",
    "how",
    "that",
    "this",
    "these",
    "those",
    "papers",
    "paper",
    "find",
    "recent",
    "latest",
    "me",
    "some",
}
MAX_QUERY_TERMS = 12


def query_terms(text: str) -> list[str]:
    """The words of free text that become ``all:`` terms, lower-cased, de-duplicated, in order.

    arXiv syntax in the text is neutralised: field prefixes (``ti:``) are removed, boolean
    operators and brackets are dropped, quotes and other punctuation never reach arXiv.
    """
    words = _WORD.findall(_FIELD_PREFIX.sub(" ", text))
    lowered = [w.lower() for w in words if w.lower() not in _OPERATORS]
    terms = [w for w in lowered if w not in _STOPWORDS] or lowered
    return list(dict.fromkeys(terms))[:MAX_QUERY_TERMS]


def build_search_query(
    text: str, start_date: date | None = None, end_date: date | None = None
) -> str:
    """arXiv ``search_query`` for free text and an optional inclusive submission-date range.

    Returns plain text with spaces (``... TO ...``): the HTTP client encodes it exactly once.
    Writing ``+TO+`` here would be encoded again to ``%2BTO%2B`` and break the range.
    """
    terms = query_terms(text)
    if not terms:
        raise ArxivQueryError(f"query {text!r} has no searchable words")
    search = " AND ".join(f"all:{t}" for t in terms)
    if start_date is None and end_date is None:
        return search
    lo = (start_date or date(1991, 1, 1)).strftime("%Y%m%d") + "0000"
    hi = (end_date or datetime.now(UTC).date()).strftime("%Y%m%d") + "2359"
    return f"({search}) AND submittedDate:[{lo} TO {hi}]"


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


@dataclass
class FeedPage:
    """One parsed page of results."""

    papers: list[Paper]
    total_results: int
    start_index: int = 0
    items_per_page: int = 0


class FeedParseError(ValueError):
    """The body is not an arXiv Atom feed (truncated, HTML error page, a DTD, too large)."""


_ID_RE = re.compile(r"arxiv\.org/abs/(?P<id>.+?)(?:v(?P<version>\d+))?$")


def _text(node: Element | None) -> str | None:
    if node is None or node.text is None:
        return None
    folded = " ".join(node.text.split())
    return folded if folded != "" else None


def _date(value: str | None) -> date | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).date()


def split_arxiv_id(value: str) -> tuple[str, int]:
    """``http://arxiv.org/abs/hep-ex/0406020v1`` -> (``hep-ex/0406020``, 1)."""
    match = _ID_RE.search(value.strip())
    if not match:
        raise FeedParseError(f"not an arXiv abstract id: {value!r}")
    return match.group("id"), int(match.group("version") or 1)


def _is_error_entry(entry: Element) -> bool:
    entry_id = _text(entry.find(f"{ATOM}id")) or ""
    return "/api/errors" in entry_id


def _parse_entry(entry: Element) -> Paper:
    arxiv_id, version = split_arxiv_id(_text(entry.find(f"{ATOM}id")) or "")
    url = pdf_url = None
    for link in entry.findall(f"{ATOM}link"):
        href = link.get("href")
        if link.get("rel") == "alternate":
            url = href
        elif link.get("title") == "pdf" or link.get("type") == "application/pdf":
            pdf_url = href
    authors, affiliations = [], []
    for author in entry.findall(f"{ATOM}author"):
        name = _text(author.find(f"{ATOM}name"))
        if name:
            authors.append(name)
            affiliations.append(
                [a for a in (_text(n) for n in author.findall(f"{ARXIV}affiliation")) if a]
            )
    primary = entry.find(f"{ARXIV}primary_category")
    categories = [c.get("term") for c in entry.findall(f"{ATOM}category")]
    published = _date(_text(entry.find(f"{ATOM}published")))
    if published is None:
        raise FeedParseError(f"entry {arxiv_id} has no <published> date")
    title = _text(entry.find(f"{ATOM}title"))
    return Paper(
        arxiv_id=arxiv_id,
        version=version,
        # A title may be literally "0": test for None, never for truthiness.
        title=title if title is not None else "",
        authors=authors,
        author_affiliations=affiliations if any(affiliations) else [],
        abstract=_text(entry.find(f"{ATOM}summary")) or "",
        url=url or f"https://arxiv.org/abs/{arxiv_id}v{version}",
        pdf_url=pdf_url,
        published_date=published,
        updated_date=_date(_text(entry.find(f"{ATOM}updated"))),
        primary_category=primary.get("term") if primary is not None else None,
        categories=list(dict.fromkeys(c for c in categories if c)),
        doi=_text(entry.find(f"{ARXIV}doi")),
        journal_ref=_text(entry.find(f"{ARXIV}journal_ref")),
        comment=_text(entry.find(f"{ARXIV}comment")),
    )


def parse_feed(body: bytes | str) -> FeedPage:
    """Parse one arXiv Atom page of either generation.

    Raises ``ArxivQueryError`` (arXiv's message) for an error feed and ``FeedParseError`` for
    anything that is not a well-formed, entity-free Atom feed under ``MAX_FEED_BYTES``.
    """
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > MAX_FEED_BYTES:
        raise FeedParseError(f"feed of {len(raw)} bytes exceeds the {MAX_FEED_BYTES}-byte cap")
    try:
        root = SafeET.fromstring(raw, forbid_dtd=True)
    except (DefusedXmlException, SafeET.ParseError) as exc:
        raise FeedParseError(f"unparseable feed: {exc}") from exc
    if root.tag != f"{ATOM}feed":
        raise FeedParseError(f"root element is {root.tag}, not an Atom feed")
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        if _is_error_entry(entry):
            message = _text(entry.find(f"{ATOM}summary")) or "arXiv rejected the query"
            raise ArxivQueryError(message)

    def _int(tag: str) -> int:
        value = _text(root.find(f"{OPENSEARCH}{tag}"))
        return int(value) if value and value.isdigit() else 0

    return FeedPage(
        papers=[_parse_entry(e) for e in entries],
        total_results=_int("totalResults"),
        start_index=_int("startIndex"),
        items_per_page=_int("itemsPerPage"),
    )


# --------------------------------------------------------------------------------------------
# Politeness: the gate
# --------------------------------------------------------------------------------------------

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

    async def acquire(self) -> tuple[int, float]:
        """Wait until free and the interval has passed; returns (token, seconds waited)."""
        began = self._clock()
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
                # Sleep while holding the permit: no one else may start meanwhile.
                await self._sleep(wait)
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


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------


@dataclass
class SearchResult:
    """What one search returns, with what it cost."""

    papers: list[Paper]
    total_found: int
    query_used: str
    cache_hit: bool = False
    requests: int = 0
    retries: int = 0
    gate_wait_s: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


class ArxivClient:
    """Search arXiv through a gate, with retries and a TTL cache.

    Defaults are arXiv's published limits: ``min_interval`` 3 s lives in the gate,
    ``num_retries=3`` with exponential backoff from ``backoff_base_s=2.0`` plus jitter. A caller
    is waiting, so one wait is at most ``max_backoff_s`` (10 s) and all of them together at most
    ``retry_budget_s`` (20 s): beyond that (a long Retry-After, say) it fails fast with
    ``ArxivUnavailable`` carrying arXiv's Retry-After, which the ingress turns into a 503.
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
        cache_ttl_s: float = 24 * 3600.0,
        cache_size: int = 2048,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.base_url = base_url
        self.gate: RequestGate = gate or IntervalGate(3.0)
        self.num_retries = num_retries
        self.backoff_base_s = backoff_base_s
        self.max_backoff_s = max_backoff_s
        self.retry_budget_s = retry_budget_s
        self._sleep = sleep
        self._jitter = jitter
        self.cache: TTLCache[tuple[str, int], SearchResult] = TTLCache(
            cache_ttl_s, cache_size, clock=clock
        )
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            headers={"User-Agent": USER_AGENT, "Accept": "application/atom+xml"},
            follow_redirects=True,
        )
        self.stats = {"requests": 0, "retries": 0, "cache_hits": 0, "gate_wait_s": 0.0}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def search(
        self,
        text: str,
        *,
        start_date: date | None = None,
        end_date: date | None = None,
        max_results: int = 10,
    ) -> SearchResult:
        """Papers for free text, sorted by arXiv's relevance; cached per normalised query."""
        query = build_search_query(text, start_date, end_date)
        key = (query, max_results)
        cached = self.cache.get(key)
        if cached is not None:
            self.stats["cache_hits"] += 1
            return SearchResult(cached.papers, cached.total_found, query, cache_hit=True)
        params = {
            "search_query": query,
            "start": "0",
            "max_results": str(max_results),
            "sortBy": "relevance",
            "sortOrder": "descending",
        }
        result = await self._fetch_with_retries(query, params)
        self.cache.put(key, result)
        return result

    async def _fetch_with_retries(self, query: str, params: dict[str, str]) -> SearchResult:
        requests = retries = 0
        waited = backed_off = 0.0
        last: _Retryable | None = None
        for attempt in range(self.num_retries + 1):
            if attempt:
                delay = self._backoff(attempt, last.retry_after_s if last else None)
                if delay is None or backed_off + delay > self.retry_budget_s:
                    break  # longer than a caller should wait: answer 503 + Retry-After now
                backed_off += delay
                retries += 1
                self.stats["retries"] += 1
                logger.info(
                    "arXiv retry %s/%s in %.1fs: %s",
                    attempt,
                    self.num_retries,
                    delay,
                    last.reason if last else "",
                )
                await self._sleep(delay)
            token, gate_wait = await self.gate.acquire()
            waited += gate_wait
            self.stats["gate_wait_s"] += gate_wait
            hold_off = 0.0
            try:
                requests += 1
                self.stats["requests"] += 1
                page = await self._fetch_once(params)
            except _Retryable as exc:
                last = exc
                hold_off = exc.retry_after_s or 0.0
                continue
            finally:
                # Retry-After applies to everyone: the gate holds the next turn back that long.
                await self.gate.release(token, hold_off)
            return SearchResult(
                page.papers,
                page.total_results,
                query,
                requests=requests,
                retries=retries,
                gate_wait_s=waited,
            )
        reason = last.reason if last else "no attempt made"
        hint = (last.retry_after_s if last and last.retry_after_s else None) or 30.0
        raise ArxivUnavailable(f"arXiv unavailable after {requests} request(s): {reason}", hint)

    def _backoff(self, attempt: int, retry_after_s: float | None) -> float | None:
        if retry_after_s is not None and retry_after_s > self.max_backoff_s:
            return None
        exponential = self.backoff_base_s * (2 ** (attempt - 1))
        delay = max(exponential, retry_after_s or 0.0) + self._jitter() * self.backoff_base_s
        return min(delay, self.max_backoff_s)

    async def _fetch_once(self, params: dict[str, str]) -> FeedPage:
        try:
            async with self._http.stream("GET", self.base_url, params=params) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_FEED_BYTES:
                        raise _Retryable(f"response larger than {MAX_FEED_BYTES} bytes")
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timeout ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise _Retryable(f"connection error ({type(exc).__name__}: {exc})") from exc

        status = response.status_code
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise _Retryable(f"HTTP {status}", retry_after)
        if status == 400:
            try:
                parse_feed(bytes(body))
            except FeedParseError:
                pass
            raise ArxivQueryError(f"arXiv answered HTTP 400 for {params['search_query']!r}")
        if status != 200:
            raise ArxivUnavailable(f"arXiv answered HTTP {status}", 60.0)
        try:
            page = parse_feed(bytes(body))
        except FeedParseError as exc:
            raise _Retryable(str(exc)) from exc
        if not page.papers and page.total_results > int(params["start"]):
            # arXiv's known glitch: HTTP 200, totalResults > 0, no entries. Ask again.
            raise _Retryable(f"empty page although totalResults={page.total_results}")
        return page


# --------------------------------------------------------------------------------------------
# Deployment
# --------------------------------------------------------------------------------------------

from ray import serve  # noqa: E402  (the core above must stay importable without Ray running)

from deployments import metrics  # noqa: E402
from models.settings import Settings  # noqa: E402

GATE_ACTOR_NAME = "arxiv_gate"
GATE_NAMESPACE = "research_arm"


class ArxivGateActor:
    """The cluster-wide gate: one named actor every fetcher replica asks for its turn."""

    def __init__(self, min_interval_s: float) -> None:
        self._gate = IntervalGate(min_interval_s)

    async def acquire(self) -> tuple[int, float]:
        return await self._gate.acquire()

    async def release(self, token: int, hold_off_s: float = 0.0) -> None:
        await self._gate.release(token, hold_off_s)

    def turns(self) -> int:
        return self._gate.turns


class ClusterGate:
    """RequestGate over the named actor (created by the first replica that needs it).

    One gate per arXiv host: every fetcher replica of every application in the cluster that
    talks to the same host queues at the same gate.
    """

    def __init__(self, min_interval_s: float, api_url: str) -> None:
        import ray

        actor_cls = ray.remote(ArxivGateActor)
        self._actor: Any = actor_cls.options(
            name=f"{GATE_ACTOR_NAME}:{httpx.URL(api_url).netloc.decode()}",
            namespace=GATE_NAMESPACE,
            get_if_exists=True,
            lifetime="detached",  # outlives any one replica, so the permit state survives
            num_cpus=0,
            max_concurrency=10_000,  # many waiters; the asyncio condition serialises them
            max_restarts=-1,
        ).remote(min_interval_s)

    async def acquire(self) -> tuple[int, float]:
        token, waited = await self._actor.acquire.remote()
        return int(token), float(waited)

    async def release(self, token: int, hold_off_s: float = 0.0) -> None:
        await self._actor.release.remote(token, hold_off_s)


@serve.deployment(name="ArxivFetcher")
class ArxivFetcher:
    """Thin Serve wrapper around ArxivClient; all replicas share one ClusterGate."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings = Settings.load(settings)
        self.client = ArxivClient(
            self.settings.arxiv_api_url,
            gate=ClusterGate(self.settings.arxiv_min_interval_s, self.settings.arxiv_api_url),
            num_retries=self.settings.arxiv_num_retries,
            backoff_base_s=self.settings.arxiv_backoff_base_s,
            timeout_s=self.settings.arxiv_timeout_s,
            cache_ttl_s=self.settings.arxiv_cache_ttl_s,
            cache_size=self.settings.arxiv_cache_size,
        )
        self.stage_metrics = metrics.StageMetrics("arxiv")
        self.requests = metrics.counter("arm_arxiv_requests_total", "HTTP requests sent to arXiv.")
        self.cache_hits = metrics.counter(
            "arm_arxiv_cache_hits_total", "Searches served from cache."
        )
        self.retries = metrics.counter("arm_arxiv_retries_total", "arXiv requests retried.")
        self.gate_wait = metrics.histogram(
            "arm_arxiv_gate_wait_ms",
            "Time a search waited for the cluster-wide gate, in ms.",
            metrics.LATENCY_MS_BOUNDARIES,
        )

    async def search(
        self,
        text: str,
        start_date: date | None = None,
        end_date: date | None = None,
        max_results: int = 10,
    ) -> SearchResult:
        started = time.perf_counter()
        result = await self.client.search(
            text, start_date=start_date, end_date=end_date, max_results=max_results
        )
        self.stage_metrics.record(len(result.papers), time.perf_counter() - started)
        if result.cache_hit:
            self.cache_hits.inc()
        else:
            self.requests.inc(result.requests)
            self.gate_wait.observe(result.gate_wait_s * 1000.0)
            if result.retries:
                self.retries.inc(result.retries)
        return result

    async def health(self) -> dict[str, Any]:
        """Local state only: Kubernetes probes every few seconds, arXiv must not see that."""
        return {"state": "ok", "detail": f"{self.client.base_url}; stats {self.client.stats}"}
