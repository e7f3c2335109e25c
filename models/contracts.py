"""The stage contracts, in one place: what each stage is asked, what it answers, and the
Protocol the request flow (``deployments.ingress.flow``) depends on.

Per stage: a request type where a call carries more than two values, a typed ``Info`` answer,
and the Protocol. The Ingress reaches the stages through Serve handles that satisfy these
Protocols (``deployments.ingress.flow.handles``); unit tests hand the flow plain objects that
satisfy them too, and mypy checks both.

What crosses a stage boundary with numpy vectors is a plain dataclass (pydantic would copy the
arrays); what can reach the public API (``/health``, ``/capabilities``) is a pydantic model.
Everything here pickles, so it survives Ray.

    stage          request            answer                     info
    ArxivFetcher   SearchRequest      SearchResult               SearchInfo (source, index)
    Embedder       list[str]          np.ndarray (n, dimension)  EmbedderInfo
    Summarizer     title, abstract    SummaryOutcome             SummarizerInfo
    MemoryWriter   list[str] ids      dict[str, StoredPaper]     MemoryInfo
                   list[NewMemory]    int (written)
                   MemoryQuery        list[StoredPaper]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field, replace
from datetime import date
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, Field

from arm_client.models import ArmWarning, SearchInfo
from models.paper import Paper
from models.settings import ArxivSource

# --- ArxivFetcher: the search -----------------------------------------------------------------


@dataclass(frozen=True)
class SearchRequest:
    """One search (Ingress -> ArxivFetcher): free text, how many papers, an inclusive range of
    first-version dates, arXiv categories (any of), and the text's unit vector.

    ``query_vector``: the Ingress embeds the query once and sends it; the local index needs
    it (the fetcher calls no other stage), the arXiv API does not. Only ``text`` is
    positional: ``SearchRequest("graph neural networks", max_results=5)``."""

    text: str
    _: KW_ONLY
    max_results: int = 10
    start_date: date | None = None
    end_date: date | None = None
    categories: Sequence[str] = ()
    query_vector: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Kept as a tuple whatever the caller gave (pydantic requests give lists): the
        # request's key() hashes, for the caches.
        object.__setattr__(self, "categories", tuple(self.categories))

    def with_changes(self, **changes: Any) -> SearchRequest:
        """This request with some fields replaced (e.g. a later ``start_date``)."""
        return replace(self, **changes)

    def key(self) -> tuple[Any, ...]:
        """What makes two searches the same answer (the vector follows from the text)."""
        return (self.text, self.max_results, self.start_date, self.end_date, tuple(self.categories))

    def describe(self) -> str:
        """``query_used`` for an index search: what was searched, under which filters."""
        parts = [f"index: {self.text}"]
        if self.start_date or self.end_date:
            parts.append(f"published {self.start_date or '...'}..{self.end_date or '...'}")
        if self.categories:
            parts.append("categories " + ",".join(self.categories))
        return "; ".join(parts)


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
    source: ArxivSource = "api"
    found_in: dict[str, str] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    summaries: dict[str, str] = field(default_factory=dict)
    warnings: list[ArmWarning] = field(default_factory=list)

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


class SearchStage(Protocol):
    async def search(self, request: SearchRequest) -> SearchResult: ...

    async def info(self) -> SearchInfo: ...


# --- Embedder ---------------------------------------------------------------------------------


class EmbedderInfo(BaseModel):
    """The Embedder's model and what this replica has done so far (Embedder.info)."""

    model: str = Field(description="What provenance calls the model.")
    dimension: int = Field(gt=0, description="Length of each unit vector.")
    device: str
    texts_total: int = Field(ge=0, description="Texts encoded by this replica.")
    texts_reused: int = Field(ge=0, description="Texts answered from its vector cache.")
    busy_s: float = Field(ge=0, description="Seconds its model spent encoding.")
    runs: int = Field(ge=0, description="encode() runs.")
    cached: int = Field(ge=0, description="Vectors in its cache now.")


class EmbedStage(Protocol):
    async def embed(self, texts: list[str]) -> np.ndarray: ...

    async def info(self) -> EmbedderInfo: ...


# --- Summarizer -------------------------------------------------------------------------------


@dataclass
class SummaryOutcome:
    """A summary (Summarizer -> Ingress) and what to tell the caller about it."""

    summary: str | None
    backend: str
    model: str
    warnings: list[ArmWarning] = field(default_factory=list)


class SummarizerInfo(BaseModel):
    """The Summarizer's backend and model (Summarizer.info)."""

    backend: str = Field(description="extractive, vllm or openai.")
    model: str


class SummarizeStage(Protocol):
    async def summarize(self, title: str, abstract: str) -> SummaryOutcome: ...

    async def info(self) -> SummarizerInfo: ...


# --- MemoryWriter -----------------------------------------------------------------------------


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


@dataclass(frozen=True)
class MemoryQuery:
    """A search of memory (Ingress -> MemoryWriter): the query's unit vector, how many papers,
    and an inclusive range of first-version dates."""

    vector: np.ndarray = field(compare=False, repr=False)
    limit: int = 10
    start_date: date | None = None
    end_date: date | None = None


class MemoryInfo(BaseModel):
    """What memory is and holds (MemoryWriter.info); never a path."""

    mode: Literal["embedded", "server"] = Field(description="Qdrant in-process, or a server.")
    collection: str
    dimension: int | None = Field(description="Vector length; null before the first write.")
    papers: int = Field(ge=0, description="Papers stored.")


class MemoryStage(Protocol):
    async def lookup(self, arxiv_ids: list[str]) -> dict[str, StoredPaper]: ...

    async def upsert(self, items: list[NewMemory], query: str | None) -> int: ...

    async def search(self, query: MemoryQuery) -> list[StoredPaper]: ...

    async def delete(self, arxiv_ids: list[str]) -> int: ...
