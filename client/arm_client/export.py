"""The papers of one answer as one file a reference manager reads: BibTeX, RIS or CSL-JSON.

Each paper already carries its entry, rendered by the arm from arXiv's metadata (``bibtex``,
``ris``, ``csl``); these functions only put them together. A paper without the entry asked for
(an arm older than these fields) raises ``ExportError`` rather than leave it out silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from arm_client.models import Paper

__all__ = ["EXPORT_FORMATS", "ExportError", "ExportFormat", "to_bibtex", "to_csl_json", "to_ris"]


class ExportError(ValueError):
    """A paper lacks the entry of the format asked for."""


def _missing(paper: Paper, what: str) -> ExportError:
    return ExportError(
        f"paper {paper.arxiv_id} carries no {what}; is the arm older than this client?"
    )


def to_bibtex(papers: Iterable[Paper]) -> str:
    """One .bib: the papers' entries in order, one blank line apart."""
    entries = []
    for paper in papers:
        if not paper.bibtex.strip():
            raise _missing(paper, "BibTeX entry")
        entries.append(paper.bibtex.strip())
    return "\n\n".join(entries) + "\n" if entries else ""


def to_ris(papers: Iterable[Paper]) -> str:
    """One .ris: the papers' records in order, each closed by its ``ER  -`` line."""
    records = []
    for paper in papers:
        # Only line ends are trimmed: the closing tag is "ER  - ", trailing space included.
        record = paper.ris.strip("\r\n")
        if not record.strip():
            raise _missing(paper, "RIS record")
        records.append(record + "\n")
    return "\n".join(records)


def to_csl_json(papers: Iterable[Paper]) -> str:
    """One CSL-JSON file: a JSON array of the papers' items, in order."""
    items = []
    for paper in papers:
        if paper.csl is None:
            raise _missing(paper, "CSL-JSON item")
        items.append(paper.csl)
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class ExportFormat:
    """One export format: its renderer, the file extension and media type to save it under."""

    name: str
    render: Callable[[Iterable[Paper]], str]
    extension: str
    media_type: str


EXPORT_FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("bibtex", to_bibtex, ".bib", "application/x-bibtex"),
        ExportFormat("ris", to_ris, ".ris", "application/x-research-info-systems"),
        ExportFormat("csl", to_csl_json, ".json", "application/vnd.citationstyles.csl+json"),
    )
}
