"""arXiv's Atom feed -> papers. Reads both generations in the wild (the 2025+ backend and the
classic one) and arXiv's error feed; refuses anything that is not a well-formed, entity-free
Atom feed under ``MAX_FEED_BYTES`` (defusedxml: no DTDs, no entity expansion)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from models.errors import ArxivQueryError
from models.paper import Paper

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"

MAX_FEED_BYTES = 20 * 1024 * 1024  # a 2000-entry page is ~5 MB; anything bigger is not arXiv


@dataclass
class FeedPage:
    """One parsed page of results."""

    papers: list[Paper]
    total_results: int
    start_index: int = 0
    items_per_page: int = 0


class FeedParseError(ValueError):
    """The body is not an arXiv Atom feed (truncated, HTML error page, a DTD, too large)."""


_ID_RE = re.compile(r"arxiv\.org/abs/(?P<id>.+?)(?:v(?P<version>\d+))?$")


def _text(node: Element | None) -> str | None:
    if node is None or node.text is None:
        return None
    folded = " ".join(node.text.split())
    return folded if folded != "" else None


def _date(value: str | None) -> date | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).date()


def split_arxiv_id(value: str) -> tuple[str, int]:
    """``http://arxiv.org/abs/hep-ex/0406020v1`` -> (``hep-ex/0406020``, 1)."""
    match = _ID_RE.search(value.strip())
    if not match:
        raise FeedParseError(f"not an arXiv abstract id: {value!r}")
    return match.group("id"), int(match.group("version") or 1)


def _is_error_entry(entry: Element) -> bool:
    entry_id = _text(entry.find(f"{ATOM}id")) or ""
    return "/api/errors" in entry_id


def _parse_entry(entry: Element) -> Paper:
    arxiv_id, version = split_arxiv_id(_text(entry.find(f"{ATOM}id")) or "")
    url = pdf_url = None
    for link in entry.findall(f"{ATOM}link"):
        href = link.get("href")
        if link.get("rel") == "alternate":
            url = href
        elif link.get("title") == "pdf" or link.get("type") == "application/pdf":
            pdf_url = href
    authors, affiliations = [], []
    for author in entry.findall(f"{ATOM}author"):
        name = _text(author.find(f"{ATOM}name"))
        if name:
            authors.append(name)
            affiliations.append(
                [a for a in (_text(n) for n in author.findall(f"{ARXIV}affiliation")) if a]
            )
    primary = entry.find(f"{ARXIV}primary_category")
    categories = [c.get("term") for c in entry.findall(f"{ATOM}category")]
    published = _date(_text(entry.find(f"{ATOM}published")))
    if published is None:
        raise FeedParseError(f"entry {arxiv_id} has no <published> date")
    title = _text(entry.find(f"{ATOM}title"))
    return Paper(
        arxiv_id=arxiv_id,
        version=version,
        # A title may be literally "0": test for None, never for truthiness.
        title=title if title is not None else "",
        authors=authors,
        author_affiliations=affiliations if any(affiliations) else [],
        abstract=_text(entry.find(f"{ATOM}summary")) or "",
        url=url or f"https://arxiv.org/abs/{arxiv_id}v{version}",
        pdf_url=pdf_url,
        published_date=published,
        updated_date=_date(_text(entry.find(f"{ATOM}updated"))),
        primary_category=primary.get("term") if primary is not None else None,
        categories=list(dict.fromkeys(c for c in categories if c)),
        doi=_text(entry.find(f"{ARXIV}doi")),
        journal_ref=_text(entry.find(f"{ARXIV}journal_ref")),
        comment=_text(entry.find(f"{ARXIV}comment")),
    )


def parse_feed(body: bytes | str) -> FeedPage:
    """Parse one arXiv Atom page of either generation.

    Raises ``ArxivQueryError`` (arXiv's message) for an error feed and ``FeedParseError`` for
    anything that is not a well-formed, entity-free Atom feed under ``MAX_FEED_BYTES``.
    """
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > MAX_FEED_BYTES:
        raise FeedParseError(f"feed of {len(raw)} bytes exceeds the {MAX_FEED_BYTES}-byte cap")
    try:
        root = SafeET.fromstring(raw, forbid_dtd=True)
    except (DefusedXmlException, SafeET.ParseError) as exc:
        raise FeedParseError(f"unparseable feed: {exc}") from exc
    if root.tag != f"{ATOM}feed":
        raise FeedParseError(f"root element is {root.tag}, not an Atom feed")
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        if _is_error_entry(entry):
            message = _text(entry.find(f"{ATOM}summary")) or "arXiv rejected the query"
            raise ArxivQueryError(message)

    def _int(tag: str) -> int:
        value = _text(root.find(f"{OPENSEARCH}{tag}"))
        return int(value) if value and value.isdigit() else 0

    return FeedPage(
        papers=[_parse_entry(e) for e in entries],
        total_results=_int("totalResults"),
        start_index=_int("startIndex"),
        items_per_page=_int("itemsPerPage"),
    )
