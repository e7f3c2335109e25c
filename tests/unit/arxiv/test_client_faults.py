"""arXiv misbehaving, over real HTTP: the real ArxivClient and IntervalGate against the stand-in.

One row per fault: what the client raises (or returns), what the ingress's one error mapping
makes of it, within a time bound derived from the settings below, and the stand-in's arrival log
showing that no two requests came closer together than the gate's interval. Unit tier: no Ray.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.requests import Request

from arm_dev.arxiv import SAMPLE_CORPUS, StandIn, load_records
from deployments.arxiv.client import ArxivClient
from deployments.arxiv.gate import IntervalGate
from deployments.ingress.http.errors import error_response
from models.contracts import SearchRequest, SearchResult
from models.errors import ArxivQueryError, ArxivUnavailable

# Small, so the module runs in seconds; the bounds below are derived from them.
MIN_INTERVAL_S = 0.05  # the gate: arXiv's 3 s, scaled down
RETRIES = 2
BACKOFF_BASE_S = 0.02
MAX_BACKOFF_S = 0.2  # a Retry-After above this answers 503 at once
RETRY_BUDGET_S = 1.0
TIMEOUT_S = 1.0  # per attempt, the whole answer (not just each read)
BODY_CAP = 256 * 1024  # bytes; the stand-in's huge mode sends 64 MiB
SLACK_S = 1.5  # a shared 2-core machine: thread start-up, GC, the scheduler

QUERY = "graph"  # one term: no fallback request, one request per attempt
ATTEMPTS = RETRIES + 1
# Every attempt waits the interval at most once and ends by TIMEOUT_S; backoffs come between.
BOUND_S = ATTEMPTS * (MIN_INTERVAL_S + TIMEOUT_S) + min(RETRIES * MAX_BACKOFF_S, RETRY_BUDGET_S)
# Modes where the client hangs up before the stand-in has finished: its end time says nothing.
CLIENT_HANGS_UP = {"slow", "trickle", "huge"}


@pytest.fixture(scope="module")
def records() -> list[Any]:
    return load_records([SAMPLE_CORPUS])


@pytest.fixture(scope="module")
def server(records: list[Any]) -> Iterator[StandIn]:
    with StandIn(records) as running:  # one per module: each shutdown polls for 0.5 s
        yield running


@pytest.fixture
def standin(server: StandIn) -> StandIn:
    """The module's stand-in with an empty log and no fault. (Threads still busy with the last
    test's slow answers only write to connections their client has closed.)"""
    server.reset()
    return server


def make_client(server: StandIn) -> ArxivClient:
    """A fresh client and gate: no cache and no Retry-After hold-off carried between rows."""
    return ArxivClient(
        server.url,
        gate=IntervalGate(MIN_INTERVAL_S),
        num_retries=RETRIES,
        backoff_base_s=BACKOFF_BASE_S,
        max_backoff_s=MAX_BACKOFF_S,
        retry_budget_s=RETRY_BUDGET_S,
        timeout_s=TIMEOUT_S,
        max_body_bytes=BODY_CAP,
        fallback=False,
    )


def ingress_answer(exc: BaseException) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, JSON body, headers) the ingress's error mapping gives ``exc``."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/execute",
        "headers": [],
        "query_string": b"",
    }
    response = error_response(Request(scope), exc)
    return response.status_code, json.loads(bytes(response.body)), dict(response.headers)


def assert_polite(server: StandIn, min_gap_s: float = MIN_INTERVAL_S) -> list[dict[str, Any]]:
    """Arrivals >= ``min_gap_s`` apart; and none while an answered request was still open."""
    seen = sorted(server.requests(), key=lambda r: r["t_start"])
    eps = 0.002  # the gate's monotonic clock against the stand-in's wall clock
    for before, after in itertools.pairwise(seen):
        gap = after["t_start"] - before["t_start"]
        assert gap >= min_gap_s - eps, f"arrivals {gap:.3f}s apart: {before} {after}"
        if before["mode"] not in CLIENT_HANGS_UP:
            assert before["t_end"] is not None
            assert after["t_start"] >= before["t_end"], "two requests open at once"
    return seen


@dataclass(frozen=True)
class Fault:
    """One row: a stand-in mode that lasts, and what a caller of /execute then sees."""

    mode: str
    options: dict[str, Any] = field(default_factory=dict)
    status: int = 503  # the ingress's answer
    error: str = "arxiv_unavailable"
    requests: int = ATTEMPTS  # requests arXiv sees for one search
    retry_after: str | None = "30"  # the ingress's Retry-After (503 only)
    message: str = ""  # in the client's message


FAULTS = {
    "429": Fault("429", message="HTTP 429"),
    "429 Retry-After 1": Fault("429", {"retry_after": 1}, requests=1, retry_after="1"),
    "503": Fault("503", message="HTTP 503"),
    "503 Retry-After 1": Fault("503", {"retry_after": 1}, requests=1, retry_after="1"),
    "406": Fault("406", message="HTTP 406"),
    "406 Retry-After 1": Fault("406", {"retry_after": 1}, requests=1, retry_after="1"),
    "500": Fault("500", message="HTTP 500"),
    "200 Rate exceeded.": Fault("rate_exceeded", message="Rate exceeded"),
    "200 Rate exceeded. Retry-After 1": Fault(
        "rate_exceeded", {"retry_after": 1}, requests=1, retry_after="1"
    ),
    "slow headers": Fault("slow", {"delay_s": 3 * TIMEOUT_S}, message="timeout"),
    "trickled body": Fault("trickle", {"interval_s": TIMEOUT_S / 5}, message="timeout"),
    "connection reset": Fault("reset", message="connection error"),
    "empty first page": Fault("empty", message="empty page"),
    "truncated XML": Fault("truncated", message="unparseable"),
    "truncated transfer": Fault("truncated", {"drop": True}, message="connection error"),
    "HTML page, 200": Fault("html", message="unparseable"),
    "HTML page, 502": Fault("html", {"status": 502}, message="HTTP 502"),
    "bad gzip": Fault("bad_gzip", message="DecodingError"),
    "oversized, Content-Length": Fault("huge", message="larger than"),
    "oversized, streamed": Fault("huge", {"declare_length": False}, message="larger than"),
    "billion laughs": Fault("bomb", message="unparseable"),
    "external entity": Fault("xxe", message="unparseable"),
    "error feed, 400": Fault(
        "error",
        {"message": "Invalid query string: 'all:(weird'"},
        status=400,
        error="bad_request",
        requests=1,
        retry_after=None,
        message="Invalid query string: 'all:(weird'",
    ),
    "error feed, 200": Fault(
        "error",
        {"message": "start must be non-negative", "status": 200},
        status=400,
        error="bad_request",
        requests=1,
        retry_after=None,
        message="start must be non-negative",
    ),
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_a_lasting_fault_ends_in_bounded_time_with_the_documented_status(
    standin: StandIn, fault: Fault
) -> None:
    client = make_client(standin)
    standin.set_fault(fault.mode, count=-1, **fault.options)
    began = time.monotonic()
    try:
        with pytest.raises((ArxivUnavailable, ArxivQueryError)) as caught:
            await asyncio.wait_for(client.search(SearchRequest(QUERY)), timeout=BOUND_S + 30)
    finally:
        await client.aclose()
    elapsed = time.monotonic() - began
    status, body, headers = ingress_answer(caught.value)
    print(f"\n{fault.mode} {fault.options}: HTTP {status} {body['error']} in {elapsed:.2f}s")

    assert (status, body["error"]) == (fault.status, fault.error)
    assert fault.message in body["message"] and "Traceback" not in body["message"]
    assert headers.get("retry-after") == fault.retry_after
    assert elapsed < BOUND_S + SLACK_S, f"{elapsed:.2f}s, bound {BOUND_S:.2f}s"
    seen = assert_polite(standin)
    assert len(seen) == fault.requests
    if fault.mode == "huge":  # refused at the cap, not read whole (nor, declared, at all)
        assert isinstance(caught.value, ArxivUnavailable)
        assert all(r["bytes_sent"] < 64 * 1024 * 1024 for r in seen)


TRANSIENT = {
    "429": ("429", {}),
    "429 Retry-After 0": ("429", {"retry_after": 0}),
    "503": ("503", {}),
    "406": ("406", {}),
    "200 Rate exceeded.": ("rate_exceeded", {}),
    "slow headers": ("slow", {"delay_s": 3 * TIMEOUT_S}),
    "connection reset": ("reset", {}),
    "empty first page": ("empty", {}),
    "truncated transfer": ("truncated", {"drop": True}),
    "HTML page": ("html", {}),
    "oversized": ("huge", {"declare_length": False}),
}


@pytest.fixture
async def clean_result(standin: StandIn) -> SearchResult:
    """What the search finds when nothing goes wrong (then the log is cleared again)."""
    client = make_client(standin)
    try:
        return await client.search(SearchRequest(QUERY))
    finally:
        await client.aclose()
        await asyncio.sleep(MIN_INTERVAL_S)  # the next client's gate knows nothing of this one
        standin.reset()


@pytest.mark.parametrize(("mode", "options"), TRANSIENT.values(), ids=TRANSIENT.keys())
async def test_a_fault_that_clears_within_the_retries_gives_the_normal_answer(
    standin: StandIn, clean_result: SearchResult, mode: str, options: dict[str, Any]
) -> None:
    client = make_client(standin)
    standin.set_fault(mode, count=RETRIES, **options)
    began = time.monotonic()
    try:
        result = await client.search(SearchRequest(QUERY))
    finally:
        await client.aclose()
    elapsed = time.monotonic() - began
    print(f"\n{mode} {options} x{RETRIES}: 200 after {result.retries} retries in {elapsed:.2f}s")
    assert [p.arxiv_id for p in result.papers] == [p.arxiv_id for p in clean_result.papers]
    assert result.papers and result.total_found == clean_result.total_found
    assert (result.requests, result.retries) == (ATTEMPTS, RETRIES)
    assert elapsed < BOUND_S + SLACK_S
    assert [r["mode"] for r in assert_polite(standin)] == [mode] * RETRIES + ["ok"]


async def test_retry_after_holds_every_caller_back(standin: StandIn) -> None:
    """A Retry-After too long to wait answers 503 at once, and the gate keeps the next caller's
    request back that long, so arXiv sees nothing before the time it asked for."""
    client = make_client(standin)
    standin.set_fault("429", count=1, retry_after=1)
    try:
        with pytest.raises(ArxivUnavailable) as caught:
            await client.search(SearchRequest(QUERY))
        assert caught.value.retry_after_s == 1.0
        result = await client.search(SearchRequest("neural"))  # another query: no cache
    finally:
        await client.aclose()
    assert result.papers
    first, second = assert_polite(standin, min_gap_s=1.0)
    assert (first["status"], second["status"]) == (429, 200)


async def test_concurrent_callers_through_faults_stay_one_at_a_time(standin: StandIn) -> None:
    """Four searches at once while arXiv throttles, resets and glitches: every request still
    waits its turn, and every search ends with its normal answer."""
    client = make_client(standin)
    queries = ["graph", "neural", "attention", "qubit"]
    # The first three requests fail; the gate serves waiters in turn, so no search meets more
    # than one of them.
    standin.set_fault("reset", count=3)
    try:
        results = await asyncio.gather(*(client.search(SearchRequest(q)) for q in queries))
    finally:
        await client.aclose()
    assert all(r.papers for r in results)
    assert sum(r.retries for r in results) == 3
    assert len(assert_polite(standin)) == len(queries) + 3
