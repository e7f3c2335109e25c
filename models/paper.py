"""A paper as the arm returns and stores it."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date

from pydantic import model_validator

from arm_client.models import Paper as ApiPaper
from models.citations import (
    DEFAULT_STYLE,
    bibtex_entry,
    csl_item,
    render_citation,
    render_csl,
    ris_record,
)

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


class Paper(ApiPaper):
    """A paper as the arm makes it: the API's ``Paper`` (``arm_client.models``), with ``csl``
    (CSL-JSON), ``citation`` (APA 7, by citeproc), ``bibtex`` and ``ris`` always rendered from
    the metadata here, whatever a caller passes in, so that no model ever writes a reference.
    """

    @model_validator(mode="after")
    def _render_citations(self) -> Paper:
        # Built afresh from the metadata: a csl passed in is never trusted either.
        self.csl = csl_item(self)
        self.citation = render_csl(self.csl, DEFAULT_STYLE)
        self.bibtex = bibtex_entry(self)
        self.ris = ris_record(self)
        return self

    def in_style(self, style: str) -> Paper:
        """This paper with ``citation`` in another CSL style (ValueError names an unknown one);
        itself for APA, which every paper carries already."""
        if style == DEFAULT_STYLE:
            return self
        return self.model_copy(update={"citation": render_citation(self, style)})

    @property
    def embedding_text(self) -> str:
        """What the embedder sees for a paper: title and abstract."""
        return f"{self.title}. {self.abstract}"


def query_key(query: str) -> str:
    """The key of a query in a stored paper's history (``query_log``): a hash of its text."""
    return "q" + hashlib.sha1(query.encode()).hexdigest()[:16]
