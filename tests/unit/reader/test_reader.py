"""The Reader's core against the arXiv stand-in over real HTTP: a real interval gate, the
packaged MiniLM embedding, passages in a real Qdrant Edge shard, the disk cache. Each fault
mode comes back as a per-paper failure naming its reason, within the request's deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import numpy as np
import pytest

from arm_dev.arxiv import StandIn
from arm_dev.arxiv.fulltext import finding
from deployments.arxiv.gate import IntervalGate
from deployments.reader.fetch import FullTextClient
from deployments.reader.passage_store import PassageStore
from deployments.reader.reader import PaperReader
from deployments.reader.text_cache import TextCache
from models.contracts import EvidenceRequest, ReadRequest

QUESTION = "Which loss do they train with, and how much does it improve accuracy?"


@pytest.fixture(scope="module")
def server() -> Iterator[StandIn]:
    with StandIn([]) as running:
        yield running


@pytest.fixture
def standin(server: StandIn) -> StandIn:
    server.reset()
    return server


def make_reader(standin: StandIn, tmp_path, embedder, timeout_s: float = 5.0) -> PaperReader:
    client = FullTextClient(
        IntervalGate(0.0),
        html_url=f"{standin.origin}/html",
        pdf_url=f"{standin.origin}/pdf",
        timeout_s=timeout_s,
        max_body_bytes=4 << 20,
    )

    async def embed(texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(embedder.embed, texts)

    store = PassageStore(embedder.dimension, path=str(tmp_path / "qdrant"))
    return PaperReader(client, TextCache(tmp_path / "texts"), store, embed)


def ask(embedder, papers: tuple[str, ...], deadline_s: float = 20.0) -> EvidenceRequest:
    vector = embedder.embed([QUESTION])[0]
    return EvidenceRequest(QUESTION, vector, papers, per_paper=2, deadline_s=deadline_s)


async def test_evidence_is_read_once_then_reused(standin, tmp_path, embedder) -> None:
    reader = make_reader(standin, tmp_path, embedder)
    papers = ("2401.00011v1", "2401.00012v2")
    first = await reader.evidence(ask(embedder, papers))
    assert first.failures == {} and first.papers_read == 2
    for paper in papers:
        best = first.passages[paper][0]
        assert finding(paper[:-2])[1] in best.text
        assert best.source == "html" and best.anchor == "S3.p2"
    fetched = [r for r in standin.fulltext_requests() if r["path"].startswith("/html/")]
    assert sorted(r["path"] for r in fetched) == ["/html/2401.00011v1", "/html/2401.00012v2"]
    again = await reader.evidence(ask(embedder, papers))
    assert again.papers_reused == 2 and again.papers_read == 0
    assert len(standin.fulltext_requests()) == 2  # nothing fetched again
    assert again.passages[papers[0]][0].text == first.passages[papers[0]][0].text


async def test_a_paper_without_html_is_read_from_its_pdf(standin, tmp_path, embedder) -> None:
    standin.set_fulltext_fault("2401.00021", "no_html")
    reader = make_reader(standin, tmp_path, embedder)
    result = await reader.evidence(ask(embedder, ("2401.00021v1",)))
    best = result.passages["2401.00021v1"][0]
    assert result.sources["2401.00021v1"] == "pdf" and best.source == "pdf"
    assert best.page in (1, 2) and best.anchor is None
    assert "loss" in best.text


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("not_found", "not_found"),
        ("encrypted_pdf", "encrypted"),
        ("scanned_pdf", "no_text_layer"),
        ("truncated_pdf", "truncated"),
    ],
)
async def test_unreadable_papers_are_named_failures(
    standin, tmp_path, embedder, mode, reason
) -> None:
    standin.set_fulltext_fault("2401.00031", mode)
    reader = make_reader(standin, tmp_path, embedder)
    result = await reader.evidence(ask(embedder, ("2401.00031v1", "2401.00032v1")))
    assert result.failures == {"2401.00031v1": reason}
    assert result.passages["2401.00032v1"]  # the other paper is answered


async def test_oversized_html_is_refused_unread_and_the_pdf_read(
    standin, tmp_path, embedder
) -> None:
    standin.set_fulltext_fault("2401.00041", "oversized")
    reader = make_reader(standin, tmp_path, embedder)
    result = await reader.evidence(ask(embedder, ("2401.00041v1",)))
    assert result.sources == {"2401.00041v1": "pdf"}


async def test_a_slow_paper_misses_the_deadline_and_is_read_when_arxiv_recovers(
    standin, tmp_path, embedder
) -> None:
    standin.set_fulltext_fault("2401.00051", "slow")
    reader = make_reader(standin, tmp_path, embedder, timeout_s=2.0)
    started = time.monotonic()
    # (One connection to arXiv at a time: a paper behind the slow one would wait too.)
    result = await reader.evidence(ask(embedder, ("2401.00051v1",), 1.0))
    assert time.monotonic() - started < 2.0
    assert result.failures == {"2401.00051v1": "timeout"}
    # The read goes on in the background until its own 2 s cap; arXiv recovers; the next
    # request reads the paper.
    await asyncio.sleep(2.5)
    standin.set_fulltext_fault("2401.00051", "ok")
    again = await reader.evidence(ask(embedder, ("2401.00051v1",), 10.0))
    assert again.failures == {} and again.sources["2401.00051v1"] == "html"


async def test_read_pages_through_the_text_with_an_outline(standin, tmp_path, embedder) -> None:
    reader = make_reader(standin, tmp_path, embedder)
    vector = embedder.embed([QUESTION])[0]
    first = await reader.read(
        ReadRequest("2401.00061", max_chars=1000, question=QUESTION, question_vector=vector)
    )
    assert first.failure is None and first.source == "html"
    assert [o[1] for o in first.outline] == ["Introduction", "Method", "Experiments", "Conclusion"]
    assert len(first.text) == 1000 and first.next_start == 1000
    assert first.total_chars > 3000
    assert finding("2401.00061")[1] in first.passages[0].text
    rest = await reader.read(ReadRequest("2401.00061", start=first.next_start, max_chars=10**6))
    assert rest.next_start is None
    assert (
        first.text + rest.text
        == (await reader.read(ReadRequest("2401.00061", max_chars=10**6))).text
    )


async def test_a_failing_embedder_is_a_named_failure_not_an_error(
    standin, tmp_path, embedder
) -> None:
    reader = make_reader(standin, tmp_path, embedder)

    async def broken(texts: list[str]) -> np.ndarray:
        raise RuntimeError("the Embedder's replica died")

    reader.embed = broken
    result = await reader.evidence(ask(embedder, ("2401.00071v1",)))
    assert result.failures == {"2401.00071v1": "failed"}
    read = await reader.read(ReadRequest("2401.00072v1"))
    assert read.failure == "failed" and read.text == ""


async def test_a_damaged_cache_file_is_read_again(standin, tmp_path, embedder) -> None:
    reader = make_reader(standin, tmp_path, embedder)
    first = await reader.read(ReadRequest("2401.00081v1"))
    cached = reader.cache.path("2401.00081v1")
    cached.write_bytes(cached.read_bytes()[:100])  # cut short, as by a full disk
    again = await reader.read(ReadRequest("2401.00081v1"))
    assert again.failure is None and again.text == first.text
    assert reader.papers_read == 2  # fetched again, not served broken
