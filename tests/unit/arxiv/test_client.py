"""ArxivClient: retries, backoff, Retry-After, the gate and the cache, with the clock controlled."""

from __future__ import annotations

import asyncio
import itertools
import pickle
from datetime import date
from typing import Any

import httpx
import pytest

from deployments.arxiv.attempts import parse_retry_after
from deployments.arxiv.client import ArxivClient
from deployments.arxiv.gate import IntervalGate
from deployments.common.caches import LRUCache
from models.contracts import SearchRequest
from models.errors import ArxivQueryError, ArxivUnavailable, StageError, unwrap
from tests.conftest import FIXTURES, FakeClock

GOOD = (FIXTURES / "atom" / "classic_wrapped_oldstyle.xml").read_bytes()
GLITCH = (FIXTURES / "atom" / "glitch_empty_page.xml").read_bytes()
ERROR = (FIXTURES / "atom" / "error_malformed_query.xml").read_bytes()


def scripted(
    *answers: httpx.Response | Exception,
) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport that plays ``answers`` in order and records what it was asked."""
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handler), seen


def make_client(clock: FakeClock, transport: httpx.MockTransport, **kw: Any) -> ArxivClient:
    gate = IntervalGate(3.0, clock=clock, sleep=clock.sleep)
    return ArxivClient(
        "https://arxiv.test/api/query",
        gate=gate,
        transport=transport,
        sleep=clock.sleep,
        clock=clock,
        jitter=lambda: 0.5,
        **kw,
    )


async def test_success_sends_one_polite_request(clock: FakeClock) -> None:
    transport, seen = scripted(httpx.Response(200, content=GOOD))
    client = make_client(clock, transport)
    result = await client.search(SearchRequest("neutrino oscillations", max_results=4))
    assert [p.arxiv_id for p in result.papers] == ["hep-ex/0406020", "1901.00042"]
    assert result.total_found == 57
    assert result.query_used == "all:neutrino AND all:oscillations"
    params = seen[0].url.params
    assert params["search_query"] == "all:neutrino AND all:oscillations"
    assert params["sortBy"] == "relevance" and params["max_results"] == "4"
    assert seen[0].headers["User-Agent"].startswith("research-arm/")


async def test_429_then_success_honours_retry_after(clock: FakeClock) -> None:
    transport, seen = scripted(
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(200, content=GOOD),
    )
    client = make_client(clock, transport)
    t0 = clock()
    result = await client.search(SearchRequest("neutrino"))
    assert len(seen) == 2 and result.retries == 1
    # backoff waited max(2 s, Retry-After 7 s) + jitter 1 s; the gate itself then waits no longer
    # because Retry-After also pushed the gate's next turn out by 7 s from the 429.
    assert clock.sleeps[0] == pytest.approx(8.0)
    assert clock() - t0 >= 7.0


async def test_backoff_is_exponential_then_gives_up(clock: FakeClock) -> None:
    transport, seen = scripted(*[httpx.Response(503) for _ in range(4)])
    client = make_client(clock, transport, num_retries=3)
    with pytest.raises(ArxivUnavailable) as info:
        await client.search(SearchRequest("neutrino"))
    assert len(seen) == 4
    # 2 s * 2^k + jitter 1 s; each backoff >= the gate's 3 s interval, so the gate never waits.
    assert clock.sleeps == [pytest.approx(3.0), pytest.approx(5.0), pytest.approx(9.0)]
    assert "HTTP 503" in info.value.message
    assert info.value.retry_after_s > 0
    # The error carries its facts, and keeps them across a pickle (a hop through Ray).
    error = pickle.loads(pickle.dumps(info.value))
    assert (error.status, error.attempts, error.url) == (503, 4, client.base_url)
    assert error.retry_after_s == info.value.retry_after_s


async def test_retry_after_beyond_our_patience_fails_fast(clock: FakeClock) -> None:
    transport, seen = scripted(httpx.Response(503, headers={"Retry-After": "3600"}))
    client = make_client(clock, transport)
    with pytest.raises(ArxivUnavailable) as info:
        await client.search(SearchRequest("neutrino"))
    assert len(seen) == 1
    assert info.value.retry_after_s == 3600


async def test_timeouts_and_connection_errors_are_retried(clock: FakeClock) -> None:
    transport, seen = scripted(
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.Response(200, content=GOOD),
    )
    result = await make_client(clock, transport).search(SearchRequest("neutrino"))
    assert len(seen) == 3 and result.retries == 2 and len(result.papers) == 2


async def test_glitchy_empty_page_is_retried(clock: FakeClock) -> None:
    transport, seen = scripted(
        httpx.Response(200, content=GLITCH), httpx.Response(200, content=GOOD)
    )
    result = await make_client(clock, transport).search(SearchRequest("graph"))
    assert len(seen) == 2 and len(result.papers) == 2


async def test_honest_empty_result_is_not_retried(clock: FakeClock) -> None:
    empty = GLITCH.replace(b"<opensearch:totalResults>4021", b"<opensearch:totalResults>0")
    transport, seen = scripted(httpx.Response(200, content=empty))
    result = await make_client(clock, transport).search(SearchRequest("graph"))
    assert len(seen) == 1 and result.papers == [] and result.total_found == 0


async def test_error_feed_becomes_query_error_with_arxivs_message(clock: FakeClock) -> None:
    transport, seen = scripted(httpx.Response(400, content=ERROR))
    with pytest.raises(ArxivQueryError) as info:
        await make_client(clock, transport).search(SearchRequest("foo bar"))
    assert len(seen) == 1  # a rejected query is never retried
    assert info.value.message == "Invalid query string: 'all:foo AND (all:bar'"
    assert info.value.status == 400


async def test_cache_serves_repeats_until_ttl(clock: FakeClock) -> None:
    transport, seen = scripted(httpx.Response(200, content=GOOD), httpx.Response(200, content=GOOD))
    client = make_client(clock, transport, cache_ttl_s=100.0)
    first = await client.search(SearchRequest("Neutrino  oscillations"))
    again = await client.search(SearchRequest("neutrino oscillations"))  # same normalised query
    assert not first.cache_hit and again.cache_hit and len(seen) == 1
    clock.now += 101
    third = await client.search(SearchRequest("neutrino oscillations"))
    assert not third.cache_hit and len(seen) == 2


def test_lru_cache_evicts_least_recent() -> None:
    clock = FakeClock()
    cache: LRUCache[str, int] = LRUCache(2, ttl_s=10.0, clock=clock)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and len(cache) == 2


async def test_gate_serialises_and_spaces_concurrent_callers(clock: FakeClock) -> None:
    gate = IntervalGate(3.0, clock=clock, sleep=clock.sleep)
    spans: list[tuple[float, float]] = []

    async def one_request() -> None:
        token, _ = await gate.acquire()
        start = clock()
        await clock.sleep(0.4)  # the request itself
        spans.append((start, clock()))
        await gate.release(token)

    await asyncio.gather(*(one_request() for _ in range(10)))
    spans.sort()
    for (_, prev_end), (start, _) in itertools.pairwise(spans):
        assert start - prev_end >= 3.0 - 1e-9  # never overlapping, always >= 3 s apart


async def test_gate_reclaims_an_unreleased_permit() -> None:
    gate = IntervalGate(0.0, lease_s=0.05)
    await gate.acquire()  # a replica that died holding its permit
    token, waited = await asyncio.wait_for(gate.acquire(), timeout=2.0)
    assert token == 2 and waited >= 0.04


@pytest.mark.parametrize(
    ("header", "expected"),
    [("12", 12.0), (None, None), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


@pytest.mark.parametrize(
    "exc",
    [
        ArxivUnavailable("down", 12.5, status=429, attempts=3, url="http://127.0.0.1:1/api"),
        ArxivQueryError("bad query", status=400, url="http://127.0.0.1:1/api"),
        StageError("boom", "embedder"),
    ],
)
def test_errors_pickle_with_their_fields(exc: Exception) -> None:
    clone = pickle.loads(pickle.dumps(exc))
    assert type(clone) is type(exc) and vars(clone) == vars(exc)


def test_unwrap_finds_the_cause() -> None:
    class Wrapper(Exception):
        def __init__(self, cause: BaseException) -> None:
            self.cause = cause

    inner = ArxivQueryError("x")
    assert unwrap(Wrapper(inner)) is inner
    plain = ValueError("y")
    assert unwrap(plain) is plain


async def test_a_long_retry_after_answers_503_at_once(clock: FakeClock) -> None:
    transport, seen = scripted(httpx.Response(429, headers={"Retry-After": "30"}))
    with pytest.raises(ArxivUnavailable) as info:
        await make_client(clock, transport).search(SearchRequest("neutrino"))
    assert len(seen) == 1 and clock.sleeps == []  # the caller is not kept waiting 30 s
    assert info.value.retry_after_s == 30


async def test_retries_stop_at_the_time_budget(clock: FakeClock) -> None:
    transport, seen = scripted(*[httpx.Response(503, headers={"Retry-After": "8"})] * 4)
    with pytest.raises(ArxivUnavailable):
        await make_client(clock, transport, num_retries=3).search(SearchRequest("neutrino"))
    # waits of 9 s each (Retry-After 8 + jitter): two fit in the 20 s budget, a third would not
    assert len(seen) == 3 and sum(clock.sleeps) <= 20.0


async def test_the_gate_reports_itself_wedged_only_when_callers_wait_past_the_lease(
    clock: FakeClock,
) -> None:
    gate = IntervalGate(3.0, lease_s=10.0, clock=clock, sleep=clock.sleep)
    await gate.acquire()  # held and never released (its fetcher died)
    clock.now += 25.0
    gate.check()  # nobody waits: a stale permit harms no one
    gate.waiting = 1  # a caller waits, yet nothing reclaimed the permit: the loop is stuck
    with pytest.raises(RuntimeError, match="wedged"):
        gate.check()


# --- the ORed fallback when the ANDed query finds too little -----------------------------------

QUESTION = "how do transformers handle long context windows efficiently"
AND_QUERY = (
    "all:do AND all:transformers AND all:handle AND all:long AND all:context AND all:windows"
    " AND all:efficiently"
)
OR_QUERY = (
    "(all:do OR all:transformers OR all:handle OR all:long OR all:context OR all:windows"
    " OR all:efficiently)"
)


def feed(*ids: str, total: int | None = None) -> httpx.Response:
    """A 200 answer: a minimal Atom page of papers with these ids, ``totalResults`` = total."""
    entries = "".join(
        f"<entry><id>http://arxiv.org/abs/{i}v1</id><title>Paper {i}</title>"
        f"<summary>About {i}.</summary><published>2024-01-02T00:00:00Z</published></entry>"
        for i in ids
    )
    body = (
        '<feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
        f"<opensearch:totalResults>{len(ids) if total is None else total}"
        f"</opensearch:totalResults>{entries}</feed>"
    )
    return httpx.Response(200, content=body.encode())


async def test_too_few_and_hits_fall_back_to_or_merged_and_hits_first(clock: FakeClock) -> None:
    transport, seen = scripted(
        feed("2401.00001"),
        feed("2401.00002", "2401.00001", "2401.00003", total=340),
    )
    client = make_client(clock, transport)
    result = await client.search(SearchRequest(QUESTION, max_results=10))
    assert [r.url.params["search_query"] for r in seen] == [AND_QUERY, OR_QUERY]
    assert seen[1].url.params["max_results"] == "10"
    assert [p.arxiv_id for p in result.papers] == ["2401.00001", "2401.00002", "2401.00003"]
    assert result.total_found == 340 and result.fallback
    assert result.query_used == OR_QUERY
    assert (result.requests, result.retries) == (2, 0)
    # The merged result is cached under the ANDed query's key: a repeat asks arXiv nothing.
    again = await client.search(SearchRequest(QUESTION, max_results=10))
    assert again.cache_hit and len(seen) == 2
    assert again.papers == result.papers and again.query_used == OR_QUERY and again.fallback


async def test_merge_is_cut_to_max_results(clock: FakeClock) -> None:
    transport, seen = scripted(
        feed("a/1", "a/2"), feed("a/2", "b/1", "b/2", "b/3", "b/4", total=99)
    )
    result = await make_client(clock, transport).search(SearchRequest(QUESTION, max_results=4))
    assert len(seen) == 2
    assert [p.arxiv_id for p in result.papers] == ["a/1", "a/2", "b/1", "b/2"]
    assert result.total_found == 99


async def test_or_query_adding_nothing_keeps_the_and_query(clock: FakeClock) -> None:
    transport, seen = scripted(feed("2401.00001"), feed("2401.00001"))
    result = await make_client(clock, transport).search(SearchRequest(QUESTION, max_results=10))
    assert len(seen) == 2 and [p.arxiv_id for p in result.papers] == ["2401.00001"]
    assert result.query_used == AND_QUERY and not result.fallback and result.total_found == 1


async def test_the_date_range_stays_anded_in_the_fallback(clock: FakeClock) -> None:
    transport, seen = scripted(feed(), feed("2401.00002"))
    result = await make_client(clock, transport).search(
        SearchRequest("dark matter", start_date=date(2023, 1, 1), end_date=date(2023, 3, 31))
    )
    assert seen[1].url.params["search_query"] == (
        "(all:dark OR all:matter) AND submittedDate:[202301010000 TO 202303312359]"
    )
    assert result.fallback and [p.arxiv_id for p in result.papers] == ["2401.00002"]


async def test_enough_and_hits_send_one_request(clock: FakeClock) -> None:
    transport, seen = scripted(feed("x/1", "x/2", "x/3", total=3))
    result = await make_client(clock, transport).search(SearchRequest(QUESTION, max_results=3))
    assert len(seen) == 1 and result.requests == 1
    assert result.query_used == AND_QUERY and not result.fallback


async def test_a_one_term_query_never_falls_back(clock: FakeClock) -> None:
    transport, seen = scripted(feed())
    result = await make_client(clock, transport).search(
        SearchRequest("the neutrinos", max_results=10)
    )
    assert len(seen) == 1 and result.papers == [] and not result.fallback


async def test_fallback_off_sends_one_request(clock: FakeClock) -> None:
    transport, seen = scripted(feed("2401.00001"))
    result = await make_client(clock, transport, fallback=False).search(SearchRequest(QUESTION))
    assert len(seen) == 1 and result.query_used == AND_QUERY and not result.fallback


async def test_unavailable_fallback_returns_the_and_hits(clock: FakeClock) -> None:
    transport, seen = scripted(
        feed("2401.00001", total=1),
        *[httpx.Response(503) for _ in range(3)],
        feed("2401.00001", total=1),
        feed("2401.00009"),
    )
    client = make_client(clock, transport, num_retries=2)
    result = await client.search(SearchRequest(QUESTION))
    assert len(seen) == 4  # the ANDed request, then the fallback with its two retries
    assert [p.arxiv_id for p in result.papers] == ["2401.00001"]
    assert result.query_used == AND_QUERY and not result.fallback and result.total_found == 1
    assert (result.requests, result.retries) == (4, 2)
    # Not cached: the next search tries the fallback again.
    again = await client.search(SearchRequest(QUESTION))
    assert not again.cache_hit and len(seen) == 6 and again.fallback
    assert [p.arxiv_id for p in again.papers] == ["2401.00001", "2401.00009"]


async def test_refused_fallback_returns_the_and_hits(clock: FakeClock) -> None:
    transport, seen = scripted(feed("2401.00001"), httpx.Response(400, content=ERROR))
    result = await make_client(clock, transport).search(SearchRequest(QUESTION))
    assert len(seen) == 2 and [p.arxiv_id for p in result.papers] == ["2401.00001"]
    assert result.query_used == AND_QUERY and not result.fallback and result.requests == 2


async def test_and_query_failing_still_fails(clock: FakeClock) -> None:
    transport, seen = scripted(httpx.Response(400, content=ERROR))
    with pytest.raises(ArxivQueryError):
        await make_client(clock, transport).search(SearchRequest(QUESTION))
    assert len(seen) == 1


async def test_the_gate_spaces_the_fallback_from_the_and_request(clock: FakeClock) -> None:
    times: list[float] = []
    answers = [feed("2401.00001"), feed("2401.00002")]

    def handler(request: httpx.Request) -> httpx.Response:
        times.append(clock())
        return answers.pop(0)

    client = make_client(clock, httpx.MockTransport(handler))
    result = await client.search(SearchRequest(QUESTION))
    assert len(times) == 2 and times[1] - times[0] >= 3.0
    assert clock.sleeps == [pytest.approx(3.0)]  # the gate's wait, no backoff
    assert result.gate_wait_s == pytest.approx(3.0)


@pytest.mark.parametrize(
    "throttle",
    [
        httpx.Response(406, headers={"Retry-After": "4"}),
        httpx.Response(200, content=b"Rate exceeded.", headers={"Content-Type": "text/plain"}),
    ],
    ids=["406", "200 Rate exceeded."],
)
async def test_arxivs_other_throttles_are_waited_out_not_read_as_results(
    clock: FakeClock, throttle: httpx.Response
) -> None:
    transport, seen = scripted(throttle, httpx.Response(200, content=GOOD))
    result = await make_client(clock, transport).search(SearchRequest("neutrino"))
    assert len(seen) == 2 and result.retries == 1 and len(result.papers) == 2


async def test_a_throttle_that_lasts_is_a_503_with_its_status(clock: FakeClock) -> None:
    rate = httpx.Response(200, content=b"Rate exceeded.")
    transport, seen = scripted(*(rate for _ in range(4)))
    with pytest.raises(ArxivUnavailable, match="Rate exceeded") as caught:
        await make_client(clock, transport, num_retries=3).search(SearchRequest("neutrino"))
    assert len(seen) == 4 and caught.value.attempts == 4


class Observed:
    """An ``ArxivObserver`` that keeps what it is told."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        self.retries = 0

    def request(self, outcome: str, throttle: str | None, gate_wait_s: float) -> None:
        assert gate_wait_s >= 0
        self.requests.append((outcome, throttle))

    def retry(self) -> None:
        self.retries += 1


async def test_every_request_is_reported_with_its_outcome_failures_included(
    clock: FakeClock,
) -> None:
    transport, _ = scripted(
        httpx.Response(429, headers={"Retry-After": "1"}),
        httpx.Response(406, content=b"Rate exceeded."),
        httpx.Response(200, content=b"Rate exceeded.\n"),
        httpx.Response(503),
    )
    observed = Observed()
    client = make_client(clock, transport, num_retries=3, observer=observed, fallback=False)
    with pytest.raises(ArxivUnavailable):
        await client.search(SearchRequest("neutrino oscillations", max_results=4))
    assert observed.requests == [
        ("throttled", "429"),
        ("throttled", "406"),
        ("throttled", "rate_exceeded"),
        ("server_error", None),
    ]
    assert observed.retries == 3

    transport, _ = scripted(httpx.ConnectError("refused"), httpx.Response(200, content=GOOD))
    observed = Observed()
    client = make_client(clock, transport, observer=observed, fallback=False)
    await client.search(SearchRequest("neutrino oscillations", max_results=4))
    assert observed.requests == [("connection", None), ("ok", None)] and observed.retries == 1

    transport, _ = scripted(httpx.Response(400, content=ERROR))
    observed = Observed()
    client = make_client(clock, transport, observer=observed, fallback=False)
    with pytest.raises(ArxivQueryError):
        await client.search(SearchRequest("neutrino oscillations", max_results=4))
    assert observed.requests == [("bad_request", None)] and observed.retries == 0
