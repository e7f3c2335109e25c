"""The local arXiv stand-in over real HTTP: the client and the stand-in speak arXiv's protocol."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from arm_dev.arxiv_standin import SAMPLE_CORPUS, StandIn, load_records
from deployments.arxiv.atom import parse_feed
from deployments.arxiv.client import ArxivClient
from deployments.arxiv.gate import IntervalGate
from models.errors import ArxivQueryError, ArxivUnavailable
from tests.conftest import shared_path


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn(load_records([SAMPLE_CORPUS])) as server:
        yield server


def client_for(server: StandIn, **kw: Any) -> ArxivClient:
    return ArxivClient(server.url, gate=IntervalGate(0.0), backoff_base_s=0.01, **kw)


async def test_search_ranks_and_filters_by_date(standin: StandIn) -> None:
    client = client_for(standin)
    result = await client.search("graph neural networks", max_results=5)
    assert {p.arxiv_id for p in result.papers} == {"2402.00003", "2402.00004"}
    dated = await client.search("neural", start_date=date(2024, 3, 1), end_date=date(2024, 3, 31))
    assert [p.arxiv_id for p in dated.papers] == ["2403.00005"]
    assert standin.requests()[-1]["search_query"] == (
        "(all:neural) AND submittedDate:[202403010000 TO 202403312359]"
    )


async def test_fault_modes_end_to_end(standin: StandIn) -> None:
    client = client_for(standin, num_retries=2)
    standin.set_fault("429", count=1, retry_after=0)
    assert (await client.search("attention")).retries == 1
    standin.set_fault("empty", count=1)
    assert len((await client.search("transformer")).papers) >= 1
    standin.set_fault("503", count=-1)
    with pytest.raises(ArxivUnavailable):
        await client.search("quantum")
    standin.set_fault("error", count=1, message="Invalid query string: 'x'")
    with pytest.raises(ArxivQueryError, match="Invalid query string"):
        await client.search("lensing")


async def test_slow_arxiv_times_out_cleanly(standin: StandIn) -> None:
    client = client_for(standin, num_retries=0, timeout_s=0.2)
    standin.set_fault("slow", count=1, delay_s=1.0)
    with pytest.raises(ArxivUnavailable, match="timeout"):
        await client.search("galaxy")


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
