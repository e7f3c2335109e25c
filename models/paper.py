"""A paper as the arm returns and stores it."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date

from pydantic import BaseModel, Field, model_validator

from models.citations import apa_citation, bibtex_entry

# A fixed namespace: the same arXiv id maps to the same point id in memory, in the index and in
# every deployment, so a paper is stored once however often it is found.
PAPER_NAMESPACE = uuid.UUID("6f1c1e36-8a1b-5b8e-9d0a-7f3e2a1c4b5d")


def point_id(arxiv_id: str) -> str:
    """The Qdrant point id of a paper: uuid5 of its version-less arXiv id."""
    return str(uuid.uuid5(PAPER_NAMESPACE, arxiv_id))


def day_key(value: date) -> int:
    """A date as the integer YYYYMMDD: the ``published_day`` payload that Qdrant's range
    filters and ordering compare (memory and the index store the same)."""
    return value.year * 10000 + value.month * 100 + value.day


def from_day_key(value: int) -> date:
    """The date of a ``day_key``."""
    return date(value // 10000, value // 100 % 100, value % 100)


class Paper(BaseModel):
    """One arXiv paper. Field names up to ``citation`` are the seed's, kept for the orchestrator.

    ``citation`` (APA 7) and ``bibtex`` are always rendered from the metadata here, whatever a
    caller passes in, so that no model ever writes a reference.
    """

    title: str
    authors: list[str] = Field(default_factory=list, description="Author display names, in order.")
    abstract: str = ""
    url: str = Field(description="The abstract page (the feed's alternate link).")
    published_date: date = Field(description="Date of the first version (UTC).")
    summary: str | None = Field(default=None, description="A TLDR; null when none could be made.")
    relevance_score: float = Field(default=0.0, ge=0.0, le=1.0)
    citation: str = Field(default="", description="APA 7 reference, rendered from metadata.")

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

    @model_validator(mode="after")
    def _render_citations(self) -> Paper:
        year = self.published_date.year
        self.citation = apa_citation(self.authors, year, self.title, self.arxiv_id)
        self.bibtex = bibtex_entry(
            self.authors, year, self.title, self.arxiv_id, self.primary_category, self.doi
        )
        return self

    @property
    def embedding_text(self) -> str:
        """What the embedder sees for a paper: title and abstract."""
        return f"{self.title}. {self.abstract}"


def query_key(query: str) -> str:
    """The key of a query in a stored paper's history (``query_log``): a hash of its text."""
    return "q" + hashlib.sha1(query.encode()).hexdigest()[:16]
