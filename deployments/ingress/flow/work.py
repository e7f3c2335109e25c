"""What one ``/execute`` gathers step by step (``Work``), and the answer made of it.

The pipeline's steps fill a ``Work``; ``research_response`` turns it into the public
``ResearchResponse``: the ranked papers, provenance (sources, models, per-stage timings) and
what was reused.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from arm_client.models import ArmWarning
from models.contracts import SearchResult, StoredPaper
from models.paper import Paper
from models.research import Provenance, ResearchRequest, ResearchResponse, StageTiming

_SEARCH_METHOD = {
    "api": "arXiv API search",
    "index": "local index search (dense + BM25)",
    "hybrid": "local index search (dense + BM25) and arXiv API for newer papers",
}


def relevance(similarity: float) -> float:
    """Cosine similarity of unit vectors mapped to [0, 1]: negatives (unrelated) become 0."""
    return 0.0 if math.isnan(similarity) else min(1.0, max(0.0, similarity))


def _sources(found_in: dict[str, str], memory: bool) -> list[str]:
    """Provenance ``sources``: "arxiv" (the API), "index", "memory", in that order."""
    origins = set(found_in.values())
    names = [name for key, name in (("api", "arxiv"), ("index", "index")) if key in origins]
    return [*(names or ["arxiv"]), *(["memory"] if memory else [])]


@dataclass
class Work:
    """What one ``/execute`` has gathered so far, step by step."""

    req: ResearchRequest
    request_id: str
    began: float = field(default_factory=time.perf_counter)
    timings: list[StageTiming] = field(default_factory=list)
    warnings: list[ArmWarning] = field(default_factory=list)
    query_vector: np.ndarray | None = None
    found: SearchResult | None = None
    candidates: list[Paper] = field(default_factory=list)
    stored: dict[str, StoredPaper] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    embedded: int = 0
    top: list[Paper] = field(default_factory=list)
    made: dict[str, str] = field(default_factory=dict)  # summaries made now
    from_index: dict[str, str] = field(default_factory=dict)  # the ingest's, new to memory
    reused: int = 0
    stored_now: int = 0
    pending: int = 0
    papers_read: int = 0  # full texts fetched and parsed for the evidence
    papers_reread: int = 0  # full texts whose passages were stored already

    def timed(self, stage: str, started: float) -> None:
        """Record that ``stage`` ran from ``started`` (``time.perf_counter()``) until now."""
        ms = round((time.perf_counter() - started) * 1000, 2)
        self.timings.append(StageTiming(stage=stage, ms=ms))

    @property
    def search(self) -> SearchResult:
        assert self.found is not None, "the search step runs first"
        return self.found


def research_response(work: Work, arm_id: str, models: Mapping[str, str]) -> ResearchResponse:
    """8. The answer: the papers, their provenance and what was reused."""
    found, req = work.search, work.req
    summaries = f"{models.get('summarizer', 'summarizer')} summaries"
    confidence = float(np.mean([p.relevance_score for p in work.top])) if work.top else 0.0
    return ResearchResponse(
        papers=[paper.cited(req.citation_style) for paper in work.top],
        total_found=found.total_found,
        query_used=found.query_used,
        search_time_ms=round((time.perf_counter() - work.began) * 1000, 2),
        confidence=round(confidence, 4),
        provenance=Provenance(
            arm_id=arm_id,
            request_id=work.request_id,
            sources=_sources(found.found_in, bool(work.stored)),
            method=f"{_SEARCH_METHOD.get(found.source, found.source)}, MiniLM cosine "
            f"re-ranking, {summaries if req.include_summaries else 'no summaries'}"
            + (", full-text evidence (dense + BM25 passages)" if req.include_evidence else ""),
            models={**models, "search": found.source},
            timings=work.timings,
            cache={
                "arxiv_cache_hit": int(found.cache_hit),
                "memory_hits": len(work.stored),
                "index_hits": sum(1 for s in found.found_in.values() if s == "index"),
                "embedded": work.embedded,
                "summaries_made": len(work.made),
                "summaries_reused": work.reused,
                "stored": work.stored_now,
                "memory_pending": work.pending,
                "fulltext_read": work.papers_read,
                "fulltext_reused": work.papers_reread,
            },
            found_in={p.arxiv_id: found.found_in.get(p.arxiv_id, "api") for p in work.top},
        ),
        warnings=work.warnings,
    )
