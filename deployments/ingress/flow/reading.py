"""The Ingress's side of the Reader: evidence for ``/execute`` (``include_evidence``) and
``POST /read``. A paper whose full text cannot be read in time gets ``evidence: []`` and a
warning naming the reason; the answer itself never waits past the evidence deadline."""

from __future__ import annotations

import logging
import re
import time

import numpy as np

from arm_client.models import ArmWarning, Evidence, OutlineEntry, StoredPassage
from deployments.common.caches import LRUCache
from deployments.common.logs import arm_logger, log_event
from deployments.ingress.flow.budget import RequestBudget
from deployments.ingress.flow.work import Work
from models.contracts import EvidenceRequest, PassageHit, PassageQuery, ReadResult, ReadStage
from models.contracts import ReadRequest as StageReadRequest
from models.errors import unwrap
from models.paper import Paper, versionless
from models.research import ReadRequest, ReadResponse

# Why a paper has no evidence, as the warning says it (the Reader's reasons).
REASONS = {
    "no_html": "arXiv has no HTML rendering and the PDF could not be read",
    "latexml_error": "arXiv's HTML is a conversion error page",
    "encrypted": "the PDF is encrypted",
    "no_text_layer": "the PDF has no text layer (a scan)",
    "truncated": "the PDF is truncated or damaged",
    "too_large": "the full text is over the size cap",
    "timeout": "the full text was not read in time (it is being read: ask again)",
    "not_found": "arXiv has no full text of this version",
    "unavailable": "arXiv did not answer",
    "empty": "the full text has no paragraph of text",
    "failed": "the arm failed reading it (its log names the error)",
    "reader_unavailable": "the Reader stage did not answer",
}
logger = arm_logger(__name__)
SLACK_S = 2.0  # the Reader answers at its deadline; this much more for the call itself
SUMMARIES_KEPT = 4096  # evidence summaries kept per Ingress replica (a few hundred bytes each)


def evidence_of(hit: PassageHit) -> Evidence:
    return Evidence(
        text=hit.text,
        section=hit.section,
        anchor_url=hit.anchor_url,
        char_start=hit.char_start,
        char_end=hit.char_end,
        score=min(1.0, max(0.0, hit.score)),
        source=hit.source,
        page=hit.page if hit.source == "pdf" else None,
    )


def unread(arxiv_id: str, reason: str) -> ArmWarning:
    why = REASONS.get(reason, reason)
    return ArmWarning(
        code="evidence_unavailable",
        stage="reader",
        message=f"no evidence: {why} ({reason})",
        arxiv_id=arxiv_id,
    )


class ReadingFlow:
    """Evidence and ``/read`` over the Reader stage; ``deadline_s``: how long a request waits
    for papers to be read (cut to the request's own deadline)."""

    def __init__(self, reader: ReadStage, budget: RequestBudget, deadline_s: float) -> None:
        self.reader = reader
        self.budget = budget
        self.deadline_s = deadline_s
        # Summaries written from evidence, by paper version and passages: memory keeps the
        # abstract's, so without these a warm request would summarise every paper again.
        self.summaries: LRUCache[str, str] = LRUCache(SUMMARIES_KEPT)

    @staticmethod
    def _summary_key(paper: Paper) -> str:
        spans = ",".join(f"{e.char_start}-{e.char_end}" for e in paper.evidence or [])
        return f"{paper.arxiv_id}v{paper.version}:{spans}"

    def summary_of(self, paper: Paper) -> str | None:
        """The summary made before from this paper version and these same passages."""
        return self.summaries.get(self._summary_key(paper))

    def keep_summary(self, paper: Paper, summary: str) -> None:
        self.summaries.put(self._summary_key(paper), summary)

    def wait_s(self) -> float:
        return max(1.0, min(self.deadline_s, self.budget.deadline_s * 0.5 - SLACK_S))

    async def attach_evidence(self, work: Work) -> None:
        """Each top paper's passages for the query (``paper.evidence``), one Reader call."""
        started = time.perf_counter()
        assert work.query_vector is not None
        papers = {f"{p.arxiv_id}v{p.version}": p for p in work.top}
        for paper in papers.values():
            paper.evidence = []
        request = EvidenceRequest(
            work.req.query,
            work.query_vector,
            tuple(papers),
            work.req.evidence_per_paper,
            self.wait_s(),
        )
        try:
            result = await self.budget.bounded(self.reader.evidence(request), "evidence", "reader")
        except Exception as exc:  # the Reader down or past its share: no evidence, an answer
            log_event(logger, logging.WARNING, "request.stage_failed", stage="reader",
                      error=repr(unwrap(exc)))  # fmt: skip
            for paper in papers.values():
                work.warnings.append(unread(paper.arxiv_id, "reader_unavailable"))
            work.timed("evidence", started)
            return
        for key, paper in papers.items():
            paper.evidence = [evidence_of(h) for h in result.passages.get(key, [])]
            if key in result.failures:
                work.warnings.append(unread(paper.arxiv_id, result.failures[key]))
        work.papers_read, work.papers_reread = result.papers_read, result.papers_reused
        work.timed("evidence", started)

    async def search_passages(
        self, query: str, vector: np.ndarray, limit: int
    ) -> list[StoredPassage]:
        """``POST /memory/search`` with ``scope: passages``: over every full text read."""
        asked = PassageQuery(query, vector, limit)
        hits = await self.budget.bounded(self.reader.search(asked), "memory_lookup", "reader")
        return [stored_passage(h) for h in hits]

    async def read(self, req: ReadRequest, question_vector: np.ndarray | None) -> ReadResponse:
        """``POST /read``: the Reader's window, outline and passages, as the API gives them."""
        asked = StageReadRequest(
            req.arxiv_id,
            start=req.start,
            max_chars=req.max_chars,
            question=req.question,
            question_vector=question_vector,
            per_paper=req.evidence_per_paper,
            deadline_s=self.wait_s(),
        )
        result: ReadResult = await self.budget.bounded(
            self.reader.read(asked), "evidence", "reader"
        )
        base = versionless(result.paper)
        warnings = [unread(base, result.failure)] if result.failure else []
        return ReadResponse(
            arxiv_id=result.paper,
            version=result.version,
            source="pdf" if result.source == "pdf" else "html" if result.source else None,
            title=result.title,
            outline=[
                OutlineEntry(
                    number=number,
                    title=title,
                    level=level,
                    anchor_url=_anchor_url(result, anchor),
                )
                for number, title, level, anchor in result.outline
            ],
            text=result.text,
            start=result.start,
            next_start=result.next_start,
            total_chars=result.total_chars,
            passages=[evidence_of(h) for h in result.passages],
            html_url=result.html_url,
            pdf_url=result.pdf_url,
            warnings=warnings,
        )


def stored_passage(hit: PassageHit) -> StoredPassage:
    return StoredPassage(
        **evidence_of(hit).model_dump(), arxiv_id=versionless(hit.paper), version=_version(hit)
    )


def _version(hit: PassageHit) -> int | None:
    match = re.search(r"v(\d+)$", hit.paper)
    return int(match.group(1)) if match else None


def _anchor_url(result: ReadResult, anchor: str) -> str:
    if anchor.startswith("page="):
        return f"{result.pdf_url}#{anchor}"
    return f"{result.html_url}#{anchor}" if anchor else result.html_url
