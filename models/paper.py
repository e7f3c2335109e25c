"""A paper as the arm returns and stores it."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import date

from arm_client.models import Paper as ApiPaper
from models.citations import (
    DEFAULT_STYLE,
    bibtex_entry,
    csl_item,
    render_csl,
    ris_record,
)

# A fixed namespace: the same arXiv id maps to the same point id in memory, in the index and in
# every deployment, so a paper is stored once however often it is found.
PAPER_NAMESPACE = uuid.UUID("6f1c1e36-8a1b-5b8e-9d0a-7f3e2a1c4b5d")


_VERSION = re.compile(r"v\d+$")


def versionless(arxiv_id: str) -> str:
    """An arXiv id without its version suffix (2104.12255v2 -> 2104.12255): what memory and
    the index key papers by."""
    return _VERSION.sub("", arxiv_id.strip())


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
    """A paper as the arm makes it: the API's ``Paper`` (``arm_client.models``). Its ``csl``
    (CSL-JSON), ``citation`` (by citeproc), ``bibtex`` and ``ris`` are rendered from the
    metadata by ``cited`` where a paper leaves the arm (an answer, a memory search, a record),
    whatever was passed in or stored, so that no model ever writes a reference. Rendering waits
    until then because a citeproc render costs milliseconds and most candidates never leave."""

    def cited(self, style: str = DEFAULT_STYLE) -> Paper:
        """This paper with every citation field rendered afresh, ``citation`` in the CSL
        ``style`` (ValueError names an unknown one). Renders are cached by metadata and style."""
        csl = csl_item(self)
        return self.model_copy(
            update={
                "csl": csl,
                "citation": render_csl(csl, style),
                "bibtex": bibtex_entry(self),
                "ris": ris_record(self),
            }
        )

    @property
    def summary_input(self) -> str:
        """What the summarizer reads: the abstract, then the evidence passages when the paper
        has them (the extractive backend picks sentences from both; an LLM is given both)."""
        passages = "\n\n".join(e.text for e in self.evidence or [])
        return f"{self.abstract}\n\n{passages}" if passages else self.abstract

    @property
    def embedding_text(self) -> str:
        """What the embedder sees for a paper: title and abstract."""
        return f"{self.title}. {self.abstract}"


def query_key(query: str) -> str:
    """The key of a query in a stored paper's history (``query_log``): a hash of its text."""
    return "q" + hashlib.sha1(query.encode()).hexdigest()[:16]
