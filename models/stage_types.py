"""The types that cross stages: what one deployment returns to another through Ray.

Plain dataclasses (they carry numpy vectors, which pydantic would copy); every one pickles.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from models.paper import Paper


@dataclass
class SearchResult:
    """What one search returns (ArxivFetcher -> Ingress), with what it cost.

    ``fallback``: some of ``papers`` came from the looser ORed query sent when the ANDed one
    found too little; ``query_used`` is then that query. ``found_in`` names each paper's
    source (arXiv id -> "api" or "index"); papers from the index bring their unit ``vectors``
    and, when the ingest made them, their ``summaries``, so neither is made again.
    ``warnings``: what degraded (in ``hybrid``, the API failing while the index answered)."""

    papers: list[Paper]
    total_found: int
    query_used: str
    cache_hit: bool = False
    requests: int = 0
    retries: int = 0
    gate_wait_s: float = 0.0
    fallback: bool = False
    source: str = "api"
    found_in: dict[str, str] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    summaries: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def copy(self, **changes: Any) -> SearchResult:
        """This result with its own lists and maps (the papers themselves shared), and
        ``changes`` applied: what a cache stores and hands out, so no caller's edits reach it."""
        own = {
            "papers": list(self.papers),
            "found_in": dict(self.found_in),
            "vectors": dict(self.vectors),
            "summaries": dict(self.summaries),
            "warnings": list(self.warnings),
        }
        return replace(self, **{**own, **changes})


@dataclass
class StoredPaper:
    """A paper as memory holds it (MemoryWriter -> Ingress), with what lets the Ingress skip
    work: its unit vector and its summary. ``score``: similarity to a search's query vector."""

    paper: Paper
    vector: np.ndarray
    summary: str | None
    queries: list[str]
    stored_at: str
    score: float = 0.0
    # The keys of every query the paper's history holds (``queries`` lists the newest 50).
    query_keys: frozenset[str] = frozenset()


@dataclass
class NewMemory:
    """One paper to write (Ingress -> MemoryWriter): metadata, unit vector and summary (None:
    none made this time; a stored summary is kept)."""

    paper: Paper
    vector: np.ndarray
    summary: str | None


@dataclass
class SummaryOutcome:
    """A summary (Summarizer -> Ingress) and what to tell the caller about it."""

    summary: str | None
    backend: str
    model: str
    warnings: list[str] = field(default_factory=list)
