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


# --- Reader -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PassageHit:
    """One passage of a paper version ranked for a question (Reader -> Ingress). ``anchor``:
    the HTML element id of the paragraph that best matches, or None in a PDF (``page`` then);
    ``char_start``/``char_end``: offsets into the paper's stored text; ``score`` in [0, 1]."""

    paper: str
    index: int
    text: str
    section: str
    kind: str
    anchor: str | None
    page: int | None
    char_start: int
    char_end: int
    source: Literal["html", "pdf"]
    score: float
    anchor_url: str = ""  # set by the Reader: the HTML URL + "#anchor", or PDF + "#page=N"


@dataclass(frozen=True)
class EvidenceRequest:
    """Passages of some papers for a question (Ingress -> Reader). ``papers``: versions
    ("2401.01234v2"); ``deadline_s``: how long the Ingress waits; a paper not read by then
    has no evidence this time (its reading goes on, for the next request)."""

    query: str
    query_vector: np.ndarray = field(compare=False, repr=False)
    papers: tuple[str, ...] = ()
    per_paper: int = 3
    deadline_s: float = 20.0


@dataclass
class EvidenceResult:
    """Ranked passages per paper version; ``failures``: paper -> why it has none (a reason of
    ``deployments.reader.document.Unreadable``); ``sources``: paper -> html or pdf."""

    passages: dict[str, list[PassageHit]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    papers_read: int = 0
    papers_reused: int = 0


@dataclass(frozen=True)
class ReadRequest:
    """``POST /read`` (Ingress -> Reader): a window of one paper's text, its outline, and with
    a ``question`` (and its vector) the paper's best passages for it."""

    paper: str
    start: int = 0
    max_chars: int = 12_000
    question: str | None = None
    question_vector: np.ndarray | None = field(default=None, compare=False, repr=False)
    per_paper: int = 3
    deadline_s: float = 20.0


@dataclass
class ReadResult:
    """One paper's text as ``/read`` returns it; ``failure`` set (and the rest empty) when it
    could not be read. ``outline``: (number, title, level, anchor) per heading."""

    paper: str
    version: int | None
    source: str | None = None
    title: str = ""
    outline: list[tuple[str, str, int, str]] = field(default_factory=list)
    text: str = ""
    start: int = 0
    next_start: int | None = None
    total_chars: int = 0
    passages: list[PassageHit] = field(default_factory=list)
    html_url: str = ""
    pdf_url: str = ""
    failure: str | None = None


class ReaderInfo(BaseModel):
    """What the Reader has done (Reader.info)."""

    papers_read: int = Field(ge=0, description="Papers fetched and parsed by this replica.")
    cache_hits: int = Field(ge=0, description="Full texts served from the disk cache.")
    passages_stored: int = Field(ge=0, description="Passages in the passage store.")
    store: Literal["embedded", "server"]


@dataclass(frozen=True)
class PassageQuery:
    """``POST /memory/search`` with ``scope: passages`` (Ingress -> Reader): the best passages
    of every paper version read, for the query."""

    query: str
    query_vector: np.ndarray = field(compare=False, repr=False)
    limit: int = 10


class ReadStage(Protocol):
    async def evidence(self, request: EvidenceRequest) -> EvidenceResult: ...

    async def search(self, request: PassageQuery) -> list[PassageHit]: ...

    async def read(self, request: ReadRequest) -> ReadResult: ...

    async def info(self) -> ReaderInfo: ...
