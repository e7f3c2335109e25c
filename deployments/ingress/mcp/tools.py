"""The arm's MCP tools: each a thin wrapper over the replica's request flow, the same one the
HTTP routes call (``replica.current_flow``), with typed arguments and a typed answer (the SDK
derives the tools' input and output JSON Schemas from these signatures).

A failure the caller can act on (an argument the API's models refuse, an unknown citation
style, the arm starting or overloaded) is a ``ToolError``: the call answers ``isError`` with
the message, never a crash of the server.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field, ValidationError

from deployments.ingress.http.replica import current_flow
from models.citations import DEFAULT_STYLE, render_citation, unknown_style
from models.errors import ArmError
from models.paper import versionless
from models.research import (
    MemorySearchRequest,
    MemorySearchResponse,
    ReadRequest,
    ReadResponse,
    ResearchRequest,
    ResearchResponse,
)

CitationFormat = Literal["text", "bibtex", "ris", "csl"]
M = TypeVar("M", bound=BaseModel)


class Citation(BaseModel):
    """One paper's reference: ``text`` (the CSL style's rendering), a BibTeX entry or an RIS
    record in ``citation``; the CSL-JSON item in ``csl`` for ``format="csl"``."""

    arxiv_id: str
    citation: str | None = None
    csl: dict[str, Any] | None = None


class FormattedCitations(BaseModel):
    """The references of the papers memory holds, in the order asked; ``missing``: the ids
    the arm has not stored (search for them first)."""

    style: str
    format: CitationFormat
    citations: list[Citation]
    missing: list[str]


def _valid(model: type[M], **arguments: Any) -> M:
    """The API's own request model, its refusal as a tool error naming the fields."""
    try:
        return model(**{k: v for k, v in arguments.items() if v is not None})
    except ValidationError as exc:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
        raise ToolError(f"invalid arguments: {fields}") from exc


def _require_style(style: str) -> None:
    if (message := unknown_style(style)) is not None:
        raise ToolError(message)


async def search_papers(
    query: Annotated[str, Field(description="What to look for, in free text (3-500 characters).")],
    max_papers: Annotated[int, Field(ge=1, le=20, description="Papers to answer with.")] = 5,
    start_date: Annotated[
        date | None, Field(description="Only papers first submitted on or after (YYYY-MM-DD).")
    ] = None,
    end_date: Annotated[
        date | None, Field(description="Only papers first submitted on or before (YYYY-MM-DD).")
    ] = None,
    categories: Annotated[
        list[str] | None, Field(description="arXiv categories, e.g. ['cs.CL', 'cs.LG'].")
    ] = None,
    include_summaries: Annotated[bool, Field(description="A TLDR for each paper.")] = True,
    include_evidence: Annotated[
        bool,
        Field(description="Read each paper's full text: passages answering the query, linked."),
    ] = False,
) -> ResearchResponse:
    """Search arXiv, rank by meaning, summarise, cite and remember the best papers (the
    arm's POST /execute): the papers with their citations, provenance and warnings."""
    request = _valid(
        ResearchRequest,
        query=query,
        max_papers=max_papers,
        start_date=start_date,
        end_date=end_date,
        categories=categories,
        include_summaries=include_summaries,
        include_evidence=include_evidence,
    )
    try:
        return await current_flow().execute(request, f"mcp-{uuid.uuid4()}")
    except ArmError as exc:
        raise ToolError(f"{type(exc).__name__}: {exc}") from exc


async def read_paper(
    arxiv_id: Annotated[
        str, Field(description="arXiv id, with a version (2401.01234v2) or without (latest).")
    ],
    question: Annotated[
        str | None, Field(description="Rank the paper's passages for this question.")
    ] = None,
    start: Annotated[int, Field(ge=0, description="Character offset of the window.")] = 0,
    max_chars: Annotated[int, Field(ge=1, le=50_000, description="Window size.")] = 12_000,
) -> ReadResponse:
    """Read one paper's full text (arXiv's HTML, else its PDF) a window at a time, with its
    outline and, for a question, its best passages, each linked to its place in the paper
    (the arm's POST /read)."""
    request = _valid(
        ReadRequest, arxiv_id=arxiv_id, question=question, start=start, max_chars=max_chars
    )
    try:
        return await current_flow().read(request)
    except ArmError as exc:
        raise ToolError(f"{type(exc).__name__}: {exc}") from exc


async def recall_memory(
    query: Annotated[str, Field(description="What to recall, in free text (3-500 characters).")],
    limit: Annotated[int, Field(ge=1, le=100, description="Papers to answer with.")] = 10,
    scope: Annotated[
        Literal["papers", "passages"],
        Field(description="papers: stored papers; passages: passages of full texts read."),
    ] = "papers",
) -> MemorySearchResponse:
    """Semantic search over the papers the arm has already found and stored, or over the
    passages of the full texts it has read (the arm's POST /memory/search); arXiv is not
    asked."""
    request = _valid(MemorySearchRequest, query=query, limit=limit, scope=scope)
    try:
        return await current_flow().memory_search(request)
    except ArmError as exc:
        raise ToolError(f"{type(exc).__name__}: {exc}") from exc


async def format_citations(
    arxiv_ids: Annotated[
        list[str], Field(min_length=1, max_length=100, description="arXiv ids, e.g. 2104.12255.")
    ],
    style: Annotated[
        str, Field(description="CSL style for format 'text': apa, ieee, nature, vancouver, ...")
    ] = DEFAULT_STYLE,
    format: Annotated[
        CitationFormat, Field(description="text (the style), bibtex, ris or csl (CSL-JSON).")
    ] = "text",
) -> FormattedCitations:
    """References for papers the arm has stored, from their arXiv metadata: a CSL style's
    text, BibTeX, RIS or CSL-JSON. Ids memory does not hold are listed in ``missing``."""
    _require_style(style)
    try:
        records = await current_flow().paper_records(sorted({versionless(i) for i in arxiv_ids}))
    except ArmError as exc:
        raise ToolError(f"{type(exc).__name__}: {exc}") from exc
    citations: list[Citation] = []
    missing: list[str] = []
    for arxiv_id in arxiv_ids:
        record = records.get(versionless(arxiv_id))
        if record is None:
            missing.append(arxiv_id)
            continue
        paper = record.paper  # its csl, bibtex and ris rendered from metadata (``cited``)
        if format == "csl":
            citations.append(Citation(arxiv_id=arxiv_id, csl=paper.csl))
        elif format == "bibtex":
            citations.append(Citation(arxiv_id=arxiv_id, citation=paper.bibtex))
        elif format == "ris":
            citations.append(Citation(arxiv_id=arxiv_id, citation=paper.ris))
        else:
            citations.append(Citation(arxiv_id=arxiv_id, citation=render_citation(paper, style)))
    return FormattedCitations(style=style, format=format, citations=citations, missing=missing)


TOOLS = (search_papers, read_paper, recall_memory, format_citations)
