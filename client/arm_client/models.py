"""The research arm's HTTP API, as types: what a caller sends and what it gets back.

Defined once, here, for both sides: the arm's server imports these models (``models.research``,
``models.health``, ``models.paper`` re-export them), and ``arm_client`` parses its answers with
them, so the two cannot drift. Plain pydantic: no Ray, no torch, no server code.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

ArxivSource = Literal["api", "index", "hybrid"]
StageState = Literal["ok", "degraded", "down"]


TextSource = Literal["html", "pdf"]


class Evidence(BaseModel):
    """A passage of the paper's full text, ranked against the request's query.

    ``anchor_url`` opens the paper at it: arXiv's HTML with ``#<paragraph id>``, or the PDF
    with ``#page=N``. ``char_start``/``char_end`` are offsets into the paper's text as
    ``POST /read`` pages through it."""

    text: str
    section: str = Field(description='Section path, "4 Experiments > 4.2 Ablations".')
    anchor_url: str
    char_start: int = Field(ge=0)
    char_end: int = Field(ge=0)
    score: float = Field(ge=0.0, le=1.0, description="Fused dense + BM25 score in the paper.")
    source: TextSource
    page: int | None = Field(default=None, description="PDF page (1-based); null for HTML.")


class Paper(BaseModel):
    """One arXiv paper. Field names up to ``citation`` are the seed's, kept for the orchestrator.

    ``citation`` and ``bibtex`` are rendered by the arm from the metadata, never by a model.
    """

    title: str
    authors: list[str] = Field(default_factory=list, description="Author display names, in order.")
    abstract: str = ""
    url: str = Field(description="The abstract page (the feed's alternate link).")
    published_date: date = Field(description="Date of the first version (UTC).")
    summary: str | None = Field(default=None, description="A TLDR; null when none could be made.")
    relevance_score: float = Field(default=0.0, ge=0.0, le=1.0)
    citation: str = Field(
        default="", description="Reference in the request's citation_style (APA 7 by default)."
    )

    arxiv_id: str = Field(description="Version-less id: 2104.12255 or hep-ex/0406020.")
    version: int = Field(default=1, ge=1)
    pdf_url: str | None = None
    updated_date: date | None = None
    primary_category: str | None = None
    categories: list[str] = Field(default_factory=list)
    doi: str | None = Field(default=None, description="The publisher's DOI, when arXiv has one.")
    journal_ref: str | None = None
    comment: str | None = None
    author_affiliations: list[list[str]] = Field(
        default_factory=list, description="Affiliations per author, aligned with `authors`."
    )
    bibtex: str = Field(default="", description="BibTeX @misc entry, rendered from metadata.")
    csl: dict[str, JsonValue] | None = Field(
        default=None, description="CSL-JSON item, built from arXiv's metadata."
    )
    ris: str = Field(default="", description="RIS record, rendered from metadata.")
    evidence: list[Evidence] | None = Field(
        default=None,
        description="With include_evidence: passages of the full text for the query, best "
        "first ([] when the paper could not be read in time: see warnings); else null.",
    )
    summary_source: Literal["abstract", "abstract+evidence"] | None = Field(
        default=None, description="What the summary was written from; null without one."
    )


# Four-digit years only: arXiv's date syntax and the stores' YYYYMMDD keys assume them
# (``date(1, 1, 1).strftime("%Y%m%d")`` is "10101").
MIN_DATE, MAX_DATE = date(1000, 1, 1), date(9999, 12, 31)
_DateField = Field(
    default=None, description=f"ISO date, YYYY-MM-DD (inclusive), {MIN_DATE} to {MAX_DATE}."
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# arXiv category names: cs.LG, hep-th, math.AG, astro-ph.GA, q-bio.NC, stat.ML ...
ArxivCategory = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z-]{0,15}(\.[A-Za-z-]{1,10})?$")
]


def _check_text(value: str, field: str) -> str:
    """Strip, fold ordinary whitespace, refuse other control characters."""
    bad = [c for c in value if unicodedata.category(c) == "Cc" and c not in "\t\n\r"]
    if bad:
        raise ValueError(
            f"{field} contains control character(s) {sorted({hex(ord(c)) for c in bad})}"
        )
    return " ".join(value.split())


def _clean_query(value: str) -> str:
    value = _check_text(value, "query")
    if len(value) < 3:
        raise ValueError("query must have at least 3 characters besides white space")
    return value


class _DateRange(BaseModel):
    start_date: date | None = _DateField
    end_date: date | None = _DateField

    @field_validator("start_date", "end_date", mode="before")
    @classmethod
    def _iso_only(cls, value: object) -> object:
        # Only "YYYY-MM-DD" (then pydantic checks it is a real day: 2023-02-30 is refused);
        # pydantic alone would also take a Unix timestamp such as 20230101.
        if value is None or isinstance(value, date):
            return value
        if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
            return value.strip()
        raise ValueError("must be a date as YYYY-MM-DD")

    @field_validator("start_date", "end_date", mode="after")
    @classmethod
    def _in_range(cls, value: date | None) -> date | None:
        if value is not None and not MIN_DATE <= value <= MAX_DATE:
            raise ValueError(f"must be between {MIN_DATE} and {MAX_DATE}")
        return value

    @model_validator(mode="after")
    def _start_before_end(self) -> _DateRange:
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise ValueError(f"start_date {self.start_date} is after end_date {self.end_date}")
        return self


class ResearchRequest(_DateRange):
    """What the orchestrator asks for."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=3, max_length=500, description="Free text; not arXiv syntax.")
    max_papers: int = Field(default=5, ge=1, le=20)
    include_summaries: bool = True
    include_evidence: bool = Field(
        default=False,
        description="Read each paper's full text and return its passages for the query.",
    )
    evidence_per_paper: int = Field(default=3, ge=1, le=5, description="Passages per paper.")
    citation_style: str = Field(
        default="apa",
        pattern=r"^[a-z0-9][a-z0-9-]{0,99}$",
        description="CSL style of each paper's `citation`: apa, ieee, chicago-author-date, "
        "nature, vancouver, or any other style name of the CSL style repository.",
    )
    categories: list[ArxivCategory] | None = Field(
        default=None,
        max_length=20,
        description="Only papers in any of these arXiv categories (cs.LG, hep-th, ...).",
    )

    @field_validator("query", mode="after")
    @classmethod
    def _clean_query(cls, value: str) -> str:
        return _clean_query(value)


class StageTiming(BaseModel):
    """Wall-clock time one stage took for this request, in milliseconds."""

    stage: str
    ms: float


class Provenance(BaseModel):
    """Where an answer came from, for audit and debugging."""

    arm_id: str
    request_id: str
    timestamp: datetime = Field(default_factory=lambda: datetime.now(UTC))
    sources: list[str]
    method: str
    models: dict[str, str] = Field(description="Stage -> model or backend that served it.")
    timings: list[StageTiming] = Field(default_factory=list)
    cache: dict[str, int] = Field(
        default_factory=dict,
        description="Counts of work skipped: arxiv_cache_hit (0/1), memory_hits, "
        "index_hits, embedded, summaries_made, summaries_reused.",
    )
    found_in: dict[str, str] = Field(
        default_factory=dict,
        description="arXiv id -> where the search found the paper: api or index.",
    )

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


WarningCode = Literal[
    "newer_papers_missing",  # hybrid: the arXiv API failed, the index's answer stands
    "memory_lookup_failed",  # nothing reused from memory; everything made again
    "memory_write_pending",  # the store did not take the write: kept, written later
    "memory_write_lost",  # the store did not take it and the outbox refused it
    "summary_failed",  # that paper's summary is null
    "summary_timed_out",  # likewise, past the summarizer's deadline
    "summary_unfaithful",  # the summary says what the abstract does not (an LLM backend)
    "evidence_unavailable",  # that paper's full text could not be read (the reason says why)
]


class ArmWarning(BaseModel):
    """What degraded in an answer that still came back. ``code`` is one of a documented set
    (docs/api.md, "Warnings"); ``arxiv_id`` names the paper it concerns, when one does."""

    code: WarningCode
    stage: Literal["arxiv", "embedder", "summarizer", "memory", "reader"]
    message: str
    arxiv_id: str | None = None


class ResearchResponse(BaseModel):
    """What the orchestrator gets back."""

    papers: list[Paper]
    total_found: int = Field(ge=0, description="arXiv's opensearch:totalResults for the query.")
    query_used: str = Field(description="The arXiv search_query actually sent.")
    search_time_ms: float = Field(ge=0)
    confidence: float = Field(ge=0.0, le=1.0, description="Mean relevance; 0 with no papers.")
    provenance: Provenance
    warnings: list[ArmWarning] = Field(default_factory=list)


class ReadRequest(BaseModel):
    """``POST /read``: a window of one paper's full text, its outline, and with a
    ``question`` its best passages for it."""

    model_config = ConfigDict(extra="forbid")

    arxiv_id: str = Field(
        pattern=r"^(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Z]{2})?/\d{7})(v\d+)?$",
        description="With a version (2401.01234v2) that version; without, the latest.",
    )
    question: str | None = Field(default=None, min_length=3, max_length=500)
    start: int = Field(default=0, ge=0, description="Character offset of the window.")
    max_chars: int = Field(default=12_000, ge=1, le=50_000)
    evidence_per_paper: int = Field(default=3, ge=1, le=5)

    @field_validator("question", mode="after")
    @classmethod
    def _clean_question(cls, value: str | None) -> str | None:
        return None if value is None else _clean_query(value)


class OutlineEntry(BaseModel):
    """A section heading: its number ("4.2", "" unnumbered), title, depth (1 = section)
    and a link that opens the paper there."""

    number: str
    title: str
    level: int = Field(ge=1)
    anchor_url: str


class ReadResponse(BaseModel):
    """One paper's text window (``text`` = characters ``start`` to ``next_start`` of
    ``total_chars``; ``next_start`` null at the end), outline and passages."""

    arxiv_id: str
    version: int | None = Field(description="The version read; null when arXiv did not say.")
    source: TextSource | None = Field(description="null when the paper could not be read.")
    title: str = ""
    outline: list[OutlineEntry] = Field(default_factory=list)
    text: str = ""
    start: int = 0
    next_start: int | None = None
    total_chars: int = 0
    passages: list[Evidence] = Field(default_factory=list)
    html_url: str
    pdf_url: str
    warnings: list[ArmWarning] = Field(default_factory=list)


class MemorySearchRequest(_DateRange):
    """A semantic search over papers the arm has stored, or (``scope: passages``) over the
    passages of the full texts it has read."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=3, max_length=500)
    limit: int = Field(default=10, ge=1, le=100)
    scope: Literal["papers", "passages"] = Field(
        default="papers",
        description="papers: stored papers (by title and abstract); passages: passages of "
        "every full text read, best first (dates do not apply).",
    )

    @field_validator("query", mode="after")
    @classmethod
    def _clean_query(cls, value: str) -> str:
        return _clean_query(value)

    @field_validator("scope", mode="after")
    @classmethod
    def _dates_are_for_papers(cls, value: str, info: ValidationInfo) -> str:
        # The dates are validated first (declared first): a 422 on this field names scope.
        if value == "passages" and (info.data.get("start_date") or info.data.get("end_date")):
            raise ValueError("start_date and end_date filter papers; scope passages takes none")
        return value


class StoredPassage(Evidence):
    """A passage of a full text the arm has read, with the paper version it comes from."""

    arxiv_id: str = Field(description="Version-less id of the paper.")
    version: int | None = None


class MemorySearchResponse(BaseModel):
    """Stored papers, most similar first; ``relevance_score`` is the similarity in [0, 1]. With
    ``scope: passages``, ``passages`` instead (``papers`` empty); ``count`` counts either."""

    papers: list[Paper]
    count: int
    passages: list[StoredPassage] = Field(default_factory=list)


ErrorKind = Literal[
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "payload_too_large",
    "uri_too_long",
    "arxiv_unavailable",
    "stage_unavailable",
    "overloaded",
    "timeout",  # 408: a body sent too slowly, or Serve's proxy past its request_timeout_s
    "internal_error",
    "validation_error",
]


class FieldError(BaseModel):
    """One invalid field of a request (a 422's ``detail``)."""

    field: str = Field(description="Dotted path of the field, or 'body'.")
    message: str
    type: str = Field(description="pydantic's error type, e.g. 'date_from_datetime_parsing'.")


class ErrorBody(BaseModel):
    """Every non-2xx answer of the arm (Serve's proxy's own answers too). ``detail``: only in a
    422, each invalid field."""

    error: ErrorKind
    message: str
    request_id: str | None = None
    detail: list[FieldError] | None = None


class IndexInfo(BaseModel):
    """What the local index holds."""

    records: int = Field(ge=0, description="Papers in the index.")
    newest: date | None = Field(description="The newest paper's first-version date.")


class SearchInfo(BaseModel):
    """The search source in use and what the local index holds (ArxivFetcher.info)."""

    source: ArxivSource = Field(description="The source a search uses now.")
    configured: ArxivSource | Literal["auto"] = Field(
        description="ARXIV_SOURCE; auto: the index when it holds records, else the API."
    )
    index: IndexInfo | None = Field(description="Null when no index is open.")


class StageHealth(BaseModel):
    """One stage's state as Serve sees it (its replicas' ``check_health``); ``detail`` says how
    many replicas run, never a path or a statistic."""

    state: StageState
    detail: str = ""


class HealthStatus(BaseModel):
    """Overall state: ``ok`` when every stage is ok, ``down`` when any stage is down."""

    status: StageState
    arm_id: str
    version: str
    stages: dict[str, StageHealth] = Field(default_factory=dict)
    search: SearchInfo | None = Field(
        default=None,
        description="The search source in use (api, index, hybrid) and what the local index "
        "holds: records and the newest paper's date. Null while the fetcher does not answer.",
    )


class Limits(BaseModel):
    """What one request may ask, and how the arm paces and bounds its work."""

    max_papers: int = Field(description="Most papers one /execute answers with.")
    query_chars: tuple[int, int] = Field(description="Shortest and longest query, characters.")
    memory_search_limit: int = Field(description="Most papers one /memory/search answers with.")
    body_bytes: int = Field(description="Largest request body read.")
    arxiv_min_interval_s: float = Field(description="Seconds between two arXiv requests.")
    max_in_flight: int = Field(description="Work requests one Ingress replica runs at once.")
    request_deadline_s: float = Field(description="Every work request is answered within this.")
    auth: Literal["bearer", "none"]


class CapabilityManifest(BaseModel):
    """What the orchestrator needs to call the arm: endpoints and their JSON schemas."""

    arm_id: str
    name: str = "research-arm"
    version: str
    description: str
    endpoints: dict[str, str]
    input_schema: dict[str, JsonValue] = Field(description="JSON Schema of POST /execute's body.")
    output_schema: dict[str, JsonValue] = Field(description="JSON Schema of its answer.")
    limits: Limits
    models: dict[str, str] = Field(description="Stage -> what serves it.")
    search: SearchInfo | None = Field(
        default=None, description="As in /health: the search source and the local index."
    )


class PaperRecord(BaseModel):
    """What memory holds of one paper (``GET /papers/{arxiv_id}``)."""

    paper: Paper
    summary: str | None = Field(description="The stored TLDR; null when none was made.")
    queries: list[str] = Field(description="The newest queries that found it, oldest first.")
    stored_at: str = Field(description="When it was first stored (ISO 8601, UTC).")
