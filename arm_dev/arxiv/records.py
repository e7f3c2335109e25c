"""The stand-in's corpus: papers as it knows them, read from JSON Lines (arXiv ``.abs`` header
names or the Kaggle OAI snapshot schema, as in ``../shared/arxiv/corpus/``)."""

from __future__ import annotations

import email.utils
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SHARED_CORPUS = (
    Path(__file__).resolve().parents[3]
    / "shared/arxiv/corpus/arxiv_browse_abs_0704.0001-0704.1001_with_abstracts.jsonl"
)
SAMPLE_CORPUS = Path(__file__).with_name("sample_corpus.jsonl")


@dataclass
class Record:
    """One paper as the stand-in knows it."""

    arxiv_id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    published: datetime
    updated: datetime
    version: int = 1
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    search_text: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        self.search_text = " ".join(
            [self.title, self.abstract, " ".join(self.authors), " ".join(self.categories)]
        ).lower()


def _fold(text: str | None) -> str:
    return " ".join((text or "").split())


def _split_authors(value: str) -> list[str]:
    value = re.sub(r"\([^)]*\)", "", _fold(value))  # drop "(affiliation)" parentheses
    parts = re.split(r",\s*|\s+and\s+", value)
    return [p.strip() for p in parts if p.strip()]


def _rfc_date(value: str) -> datetime:
    value = re.sub(r"\s*\(\d+kb\)\s*$", "", value.strip())
    return email.utils.parsedate_to_datetime(value).astimezone(UTC)


def record_from_json(obj: dict[str, Any]) -> Record | None:
    """A record from either corpus schema; None for records without an abstract."""
    abstract = _fold(obj.get("abstract"))
    if not abstract:
        return None
    if "arXiv" in obj:  # arXiv .abs header names
        dates = [v for k, v in obj.items() if k == "Date" or k.startswith("Date (revised")]
        published = _rfc_date(dates[0])
        updated = _rfc_date(dates[-1])
        return Record(
            arxiv_id=obj["arXiv"],
            title=_fold(obj.get("Title")),
            abstract=abstract,
            authors=_split_authors(obj.get("Authors", "")),
            categories=(obj.get("Categories") or "").split(),
            published=published,
            updated=updated,
            version=len(dates),
            comment=_fold(obj.get("Comments")) or None,
            journal_ref=_fold(obj.get("Journal-ref")) or None,
            doi=_fold(obj.get("DOI")) or None,
        )
    versions = obj.get("versions") or []
    created = [_rfc_date(v["created"]) for v in versions if v.get("created")]
    published = created[0] if created else datetime(2000, 1, 1, tzinfo=UTC)
    return Record(
        arxiv_id=obj["id"],
        title=_fold(obj.get("title")),
        abstract=abstract,
        authors=_split_authors(obj.get("authors", "")),
        categories=(obj.get("categories") or "").split(),
        published=published,
        updated=created[-1] if created else published,
        version=max(1, len(versions)),
        comment=_fold(obj.get("comments")) or None,
        journal_ref=_fold(obj.get("journal-ref")) or None,
        doi=_fold(obj.get("doi")) or None,
    )


def load_records(paths: Iterable[Path]) -> list[Record]:
    """Records from JSON Lines files, de-duplicated by id (first wins)."""
    seen: dict[str, Record] = {}
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    rec = record_from_json(json.loads(line))
                    if rec is not None and rec.arxiv_id not in seen:
                        seen[rec.arxiv_id] = rec
    return list(seen.values())


def default_corpus() -> list[Path]:
    """The shared real corpus when it is beside the checkout, else the small packaged sample."""
    return [SHARED_CORPUS] if SHARED_CORPUS.exists() else [SAMPLE_CORPUS]
