"""The request flow's side of the Reader (``include_evidence``, ``POST /read``) over plain
stages: evidence on each paper, the summary written from it, a paper that cannot be read as a
warning, and a Reader that hangs bounded by the evidence deadline."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from pydantic import ValidationError

from deployments.ingress.flow.pipeline import ResearchPipeline
from models.contracts import EvidenceRequest, EvidenceResult
from models.research import MemorySearchRequest, ReadRequest, ResearchRequest
from tests.unit.ingress.stage_fakes import PAPERS, Embedder, Fetcher, Memory, Reader, Summarizer

TEXTS = {
    "2401.00001": "We study molecules. We train with the focal loss on graphs. It helps a lot.",
    "2401.00003": "Graphs are everywhere. Neural networks on graphs pass messages.",
}


class HangingReader(Reader):
    async def evidence(self, request: EvidenceRequest) -> EvidenceResult:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


def make(reader: Reader, **kw: Any) -> tuple[ResearchPipeline, Summarizer, Memory]:
    summarizer, memory = Summarizer(), Memory()
    pipeline = ResearchPipeline(
        Fetcher(list(PAPERS)), Embedder(), summarizer, memory, arm_id="t", reader=reader, **kw
    )
    return pipeline, summarizer, memory


def execute(pipeline: ResearchPipeline, **kw: Any) -> Any:
    request = ResearchRequest(query="graph neural networks focal loss", **kw)
    return asyncio.run(pipeline.execute(request, "rid"))


def test_evidence_rides_on_each_paper_and_feeds_its_summary() -> None:
    reader = Reader(texts=TEXTS)
    pipeline, _, memory = make(reader)
    answer = execute(pipeline, max_papers=2, include_evidence=True, evidence_per_paper=2)
    assert reader.calls == 1  # every paper in one Reader call
    for paper in answer.papers:
        assert len(paper.evidence) == 2
        assert paper.evidence[0].score >= paper.evidence[1].score
        assert paper.evidence[0].anchor_url.startswith(
            f"http://arxiv.test/html/{paper.arxiv_id}v1#"
        )
        assert paper.summary_source == "abstract+evidence"
    focal = next(p for p in answer.papers if p.arxiv_id == "2401.00001")
    assert "focal loss" in focal.evidence[0].text
    assert answer.provenance.cache["fulltext_read"] == 2
    assert "full-text evidence" in answer.provenance.method
    # Memory keeps abstract summaries: one written from evidence is not stored.
    assert all(m.summary is None for m in memory.points.values())


def test_without_evidence_nothing_is_read() -> None:
    reader = Reader(texts=TEXTS)
    pipeline, _, _ = make(reader)
    answer = execute(pipeline)
    assert reader.calls == 0
    assert all(p.evidence is None and p.summary_source == "abstract" for p in answer.papers)


def test_an_unreadable_paper_is_a_warning_and_the_rest_is_answered() -> None:
    reader = Reader(texts=TEXTS, unreadable={"2401.00001": "encrypted"})
    pipeline, _, _ = make(reader)
    answer = execute(pipeline, max_papers=2, include_evidence=True)
    by_id = {p.arxiv_id: p for p in answer.papers}
    assert by_id["2401.00001"].evidence == []
    assert by_id["2401.00003"].evidence
    (warning,) = answer.warnings
    assert warning.code == "evidence_unavailable" and warning.stage == "reader"
    assert warning.arxiv_id == "2401.00001" and warning.message.endswith("(encrypted)")


def test_a_hanging_reader_costs_its_share_not_the_answer() -> None:
    pipeline, _, _ = make(HangingReader(), deadline_s=4.0, evidence_deadline_s=1.0)
    started = time.monotonic()
    answer = execute(pipeline, max_papers=2, include_evidence=True)
    assert time.monotonic() - started < 3.5  # the evidence share: half the 4 s deadline
    assert all(p.evidence == [] for p in answer.papers)
    assert {w.code for w in answer.warnings} == {"evidence_unavailable"}


def test_read_returns_a_window_and_the_question_s_passages() -> None:
    pipeline, _, _ = make(Reader(texts=TEXTS))
    first = asyncio.run(
        pipeline.read(ReadRequest(arxiv_id="2401.00001", question="which loss", max_chars=20))
    )
    assert first.text == TEXTS["2401.00001"][:20] and first.next_start == 20
    assert first.outline[0].anchor_url == "http://arxiv.test/html/2401.00001v1#S1"
    assert "focal loss" in first.passages[0].text
    missing = asyncio.run(
        make(Reader(unreadable={"2401.00009": "not_found"}))[0].read(
            ReadRequest(arxiv_id="2401.00009")
        )
    )
    assert missing.source is None and missing.warnings[0].message.endswith("(not_found)")


def test_memory_search_over_passages() -> None:
    pipeline, _, _ = make(Reader(texts=TEXTS))
    found = asyncio.run(
        pipeline.memory_search(
            MemorySearchRequest(query="focal loss on graphs", scope="passages", limit=2)
        )
    )
    assert found.papers == [] and found.count == len(found.passages) == 2
    best = found.passages[0]
    assert best.arxiv_id == "2401.00001" and best.version == 1 and "focal loss" in best.text


def test_dates_do_not_apply_to_passages() -> None:
    with pytest.raises(ValidationError, match="scope passages"):
        MemorySearchRequest(query="graphs", scope="passages", start_date="2024-01-01")


def test_a_warm_evidence_request_reuses_its_summaries() -> None:
    pipeline, summarizer, _ = make(Reader(texts=TEXTS))
    first = execute(pipeline, max_papers=2, include_evidence=True)
    made = summarizer.calls
    again = execute(pipeline, max_papers=2, include_evidence=True)
    assert summarizer.calls == made  # the same passages: the summaries made the first time
    assert [p.summary for p in again.papers] == [p.summary for p in first.papers]
    assert again.provenance.cache["summaries_reused"] == 2
