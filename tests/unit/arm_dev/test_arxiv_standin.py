"""The local arXiv stand-in over real HTTP: the client and the stand-in speak arXiv's protocol."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from arm_dev.arxiv import SAMPLE_CORPUS, QueryError, StandIn, evaluate, load_records
from deployments.arxiv.atom import parse_feed
from deployments.arxiv.client import ArxivClient
from deployments.arxiv.gate import IntervalGate
from models.contracts import SearchRequest
from models.errors import ArxivQueryError, ArxivUnavailable
from tests.conftest import shared_path


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn(load_records([SAMPLE_CORPUS])) as server:
        yield server


def client_for(server: StandIn, **kw: Any) -> ArxivClient:
    return ArxivClient(server.url, gate=IntervalGate(0.0), backoff_base_s=0.01, **kw)


async def test_search_ranks_and_filters_by_date(standin: StandIn) -> None:
    client = client_for(standin, fallback=False)
    result = await client.search(SearchRequest("graph neural networks", max_results=5))
    assert {p.arxiv_id for p in result.papers} == {"2402.00003", "2402.00004"}
    dated = await client.search(
        SearchRequest("neural", start_date=date(2024, 3, 1), end_date=date(2024, 3, 31))
    )
    assert [p.arxiv_id for p in dated.papers] == ["2403.00005"]
    assert standin.requests()[-1]["search_query"] == (
        "(all:neural) AND submittedDate:[202403010000 TO 202403312359]"
    )


async def test_fault_modes_end_to_end(standin: StandIn) -> None:
    client = client_for(standin, num_retries=2)
    standin.set_fault("429", count=1, retry_after=0)
    assert (await client.search(SearchRequest("attention"))).retries == 1
    standin.set_fault("empty", count=1)
    assert len((await client.search(SearchRequest("transformer"))).papers) >= 1
    standin.set_fault("503", count=-1)
    with pytest.raises(ArxivUnavailable):
        await client.search(SearchRequest("quantum"))
    standin.set_fault("error", count=1, message="Invalid query string: 'x'")
    with pytest.raises(ArxivQueryError, match="Invalid query string"):
        await client.search(SearchRequest("lensing"))


async def test_slow_arxiv_times_out_cleanly(standin: StandIn) -> None:
    client = client_for(standin, num_retries=0, timeout_s=0.2)
    standin.set_fault("slow", count=1, delay_s=1.0)
    with pytest.raises(ArxivUnavailable, match="timeout"):
        await client.search(SearchRequest("galaxy"))


def test_control_endpoint_over_http(standin: StandIn) -> None:
    base = standin.url.rsplit("/api/", 1)[0]
    httpx.post(f"{base}/_control", json={"mode": "503", "count": 1, "retry_after": 4})
    first = httpx.get(standin.url, params={"search_query": "all:galaxy"})
    assert first.status_code == 503 and first.headers["Retry-After"] == "4"
    second = httpx.get(standin.url, params={"search_query": "all:galaxy"})
    assert second.status_code == 200 and parse_feed(second.content).papers
    log = json.loads(httpx.get(f"{base}/_requests").content)
    assert [r["status"] for r in log] == [503, 200]


def test_standin_speaks_real_atom_from_the_shared_corpus() -> None:
    path = shared_path("arxiv", "corpus", "kaggle_oai_snapshot_head200_0704.0001-0704.0200.jsonl")
    records = load_records([path])
    assert len(records) == 200
    with StandIn(records) as server:
        response = httpx.get(server.url, params={"id_list": "0704.0001"})
    paper = parse_feed(response.content).papers[0]
    assert (
        paper.title
        == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert paper.doi == "10.1103/PhysRevD.76.013009"
    assert paper.published_date == date(2007, 4, 2)


QUESTION = "how do transformers handle long context windows efficiently"


async def test_a_long_question_finds_papers_only_with_the_fallback(standin: StandIn) -> None:
    strict = await client_for(standin, fallback=False).search(
        SearchRequest(QUESTION, max_results=5)
    )
    assert strict.papers == [] and strict.total_found == 0
    assert len(standin.requests()) == 1
    standin.reset()

    loose = await client_for(standin).search(SearchRequest(QUESTION, max_results=5))
    sent = [r["search_query"] for r in standin.requests()]
    assert len(sent) == 2 and " OR " not in sent[0] and sent[1] == loose.query_used
    assert sent[1].startswith("(all:do OR all:transformers OR ")
    assert loose.fallback and loose.requests == 2
    # The two attention/transformer papers: the only ones sharing several of its words.
    assert [p.arxiv_id for p in loose.papers] == ["2401.00001", "2401.00002"]
    assert loose.total_found == 2


async def test_fallback_fills_up_after_the_and_hits(standin: StandIn) -> None:
    result = await client_for(standin).search(SearchRequest("graph neural networks", max_results=5))
    ids = [p.arxiv_id for p in result.papers]
    assert set(ids[:2]) == {"2402.00003", "2402.00004"}  # every word: first
    assert ids[2:] == ["2403.00005"]  # "neural network(s)" only
    assert result.fallback and result.total_found == 3


@pytest.fixture(scope="module")
def sample() -> list[Any]:
    return load_records([SAMPLE_CORPUS])


def _ids(query: str, records: list[Any]) -> list[str]:
    return [r.arxiv_id for r in evaluate(query, records)]


def test_or_ranks_by_distinct_terms_then_frequency(sample: list[Any]) -> None:
    # 2402.00003/4 match two of the three words, 2403.00005 and 2404.00008 one each.
    assert _ids("(all:graph OR all:neural OR all:sentence)", sample) == [
        "2402.00003",
        "2402.00004",
        "2403.00005",
        "2404.00008",
    ]
    assert _ids("all:graph OR all:qubit", sample) == ["2402.00003", "2402.00004", "2403.00006"]


def test_or_group_with_an_anded_date_range(sample: list[Any]) -> None:
    assert _ids(
        "(all:graph OR all:neural) AND submittedDate:[202403010000 TO 202403312359]", sample
    ) == ["2403.00005"]
    assert _ids(
        "(all:graph AND all:neural) AND submittedDate:[202402010000 TO 202402292359]", sample
    ) == [
        "2402.00003",
        "2402.00004",
    ]
    assert _ids("all:graph AND all:neural", sample) == ["2402.00003", "2402.00004"]
    assert _ids("all:graph AND (all:smoothing OR all:qubit)", sample) == ["2402.00004"]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "foo:bar",
        "all:foo AND (all:bar",
        "all:graph)",
        "()",
        "all:a OR all:b AND all:c",
        "all:[202001010000 TO 202101010000]",
        "submittedDate:[2020 TO 2021]",
        "submittedDate:2020",
        "all:a NOT all:b",
    ],
)
def test_malformed_queries_are_refused(query: str, sample: list[Any]) -> None:
    with pytest.raises(QueryError, match="Invalid query string"):
        evaluate(query, sample)


def test_andnot_is_still_unsupported(sample: list[Any]) -> None:
    with pytest.raises(QueryError, match="unsupported operator"):
        evaluate("all:graph ANDNOT all:neural", sample)


def test_text_xml_cannot_carry_never_breaks_the_feed() -> None:
    record = load_records([SAMPLE_CORPUS])[0]
    record.abstract = "A control character \x18 inside."
    with StandIn([record]) as server:
        body = httpx.get(server.url, params={"search_query": "all:sparse"}).content
    (paper,) = parse_feed(body).papers
    assert paper.abstract == "A control character inside."


@pytest.mark.parametrize(
    ("control", "status", "starts"),
    [
        ({"mode": "406", "retry_after": 2}, 406, b"Rate exceeded."),
        ({"mode": "rate_exceeded"}, 200, b"Rate exceeded."),
        ({"mode": "html", "status": 502}, 502, b"<!DOCTYPE html>"),
        ({"mode": "bomb"}, 200, b'<?xml version="1.0"?>\n<!DOCTYPE feed ['),
        ({"mode": "error", "status": 200, "message": "bad"}, 200, b"<?xml"),
    ],
)
def test_misbehaving_answers_over_http(
    standin: StandIn, control: dict[str, Any], status: int, starts: bytes
) -> None:
    base = standin.url.rsplit("/api/", 1)[0]
    httpx.post(f"{base}/_control", json={**control, "count": 1})
    response = httpx.get(standin.url, params={"search_query": "all:galaxy"})
    assert response.status_code == status and response.content.startswith(starts)
    assert response.headers.get("Retry-After") == (
        str(control["retry_after"]) if "retry_after" in control else None
    )
    assert httpx.get(standin.url, params={"search_query": "all:galaxy"}).status_code == 200


def test_connection_faults_are_logged_on_arrival(standin: StandIn) -> None:
    standin.set_fault("reset", count=1)
    with pytest.raises(httpx.TransportError):
        httpx.get(standin.url, params={"search_query": "all:galaxy"})
    standin.set_fault("truncated", count=1, drop=True)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(standin.url, params={"search_query": "all:galaxy"})
    standin.set_fault("huge", count=1, size_bytes=1 << 20, declare_length=False)
    big = httpx.get(standin.url, params={"search_query": "all:galaxy"})
    assert len(big.content) == 1 << 20 and big.content.endswith(b"</feed>\n")
    reset, cut, huge = standin.requests()
    assert (reset["mode"], reset["status"], reset["bytes_sent"]) == ("reset", None, 0)
    assert cut["status"] == 200 and 0 < cut["bytes_sent"] < 4000
    assert huge["bytes_sent"] == 1 << 20
