"""Atom feeds as arXiv's 2025+ backend writes them: a page of records, and the error feed."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from arm_dev.arxiv.records import Record

NS_ATOM = "http://www.w3.org/2005/Atom"
NS_ARXIV = "http://arxiv.org/schemas/atom"
NS_OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
ET.register_namespace("", NS_ATOM)
ET.register_namespace("arxiv", NS_ARXIV)
ET.register_namespace("opensearch", NS_OPENSEARCH)

# Characters XML 1.0 cannot carry (a real abstract has held a \x18): arXiv's feed never has them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, tag, attrs)
    if text is not None:
        node.text = _NOT_XML.sub(" ", text)
    return node


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_feed(records: list[Record], total: int, start: int, per_page: int, title: str) -> bytes:
    """An Atom page as arXiv's current backend writes it."""
    feed = ET.Element(f"{{{NS_ATOM}}}feed")
    digest = hashlib.sha1(title.encode()).hexdigest()[:27]
    _sub(feed, f"{{{NS_ATOM}}}id", f"https://arxiv.org/api/{digest}")
    _sub(feed, f"{{{NS_ATOM}}}title", f"arXiv Query: {title}")
    _sub(feed, f"{{{NS_ATOM}}}updated", _stamp(datetime.now(UTC)))
    _sub(feed, f"{{{NS_OPENSEARCH}}}itemsPerPage", str(per_page))
    _sub(feed, f"{{{NS_OPENSEARCH}}}totalResults", str(total))
    _sub(feed, f"{{{NS_OPENSEARCH}}}startIndex", str(start))
    for rec in records:
        entry = _sub(feed, f"{{{NS_ATOM}}}entry")
        vid = f"{rec.arxiv_id}v{rec.version}"
        _sub(entry, f"{{{NS_ATOM}}}id", f"http://arxiv.org/abs/{vid}")
        _sub(entry, f"{{{NS_ATOM}}}title", rec.title)
        _sub(entry, f"{{{NS_ATOM}}}updated", _stamp(rec.updated))
        _sub(
            entry,
            f"{{{NS_ATOM}}}link",
            href=f"https://arxiv.org/abs/{vid}",
            rel="alternate",
            type="text/html",
        )
        _sub(
            entry,
            f"{{{NS_ATOM}}}link",
            href=f"https://arxiv.org/pdf/{vid}",
            rel="related",
            type="application/pdf",
            title="pdf",
        )
        if rec.doi:
            _sub(
                entry,
                f"{{{NS_ATOM}}}link",
                href=f"https://doi.org/{rec.doi}",
                rel="related",
                title="doi",
            )
        _sub(entry, f"{{{NS_ATOM}}}summary", rec.abstract)
        for cat in rec.categories:
            _sub(entry, f"{{{NS_ATOM}}}category", term=cat, scheme="http://arxiv.org/schemas/atom")
        _sub(entry, f"{{{NS_ATOM}}}published", _stamp(rec.published))
        if rec.comment:
            _sub(entry, f"{{{NS_ARXIV}}}comment", rec.comment)
        if rec.categories:
            _sub(entry, f"{{{NS_ARXIV}}}primary_category", term=rec.categories[0])
        if rec.journal_ref:
            _sub(entry, f"{{{NS_ARXIV}}}journal_ref", rec.journal_ref)
        if rec.doi:
            _sub(entry, f"{{{NS_ARXIV}}}doi", rec.doi)
        for name in rec.authors:
            author = _sub(entry, f"{{{NS_ATOM}}}author")
            _sub(author, f"{{{NS_ATOM}}}name", name)
    ET.indent(feed, space="  ")
    return b"<?xml version='1.0' encoding='UTF-8'?>\n" + ET.tostring(feed, encoding="utf-8") + b"\n"


def render_error(message: str) -> bytes:
    """arXiv's error feed: one entry whose summary is the message."""
    feed = ET.Element(f"{{{NS_ATOM}}}feed")
    _sub(feed, f"{{{NS_ATOM}}}id", "https://arxiv.org/")
    _sub(feed, f"{{{NS_ATOM}}}title", "arXiv Search Results")
    _sub(feed, f"{{{NS_ATOM}}}updated", _stamp(datetime.now(UTC)))
    for tag, value in (("itemsPerPage", "1"), ("totalResults", "1"), ("startIndex", "0")):
        _sub(feed, f"{{{NS_OPENSEARCH}}}{tag}", value)
    entry = _sub(feed, f"{{{NS_ATOM}}}entry")
    slug = re.sub(r"\W+", "_", message.lower()).strip("_")[:60]
    _sub(entry, f"{{{NS_ATOM}}}id", f"https://arxiv.org/api/errors#{slug}")
    _sub(entry, f"{{{NS_ATOM}}}title", "Error")
    _sub(entry, f"{{{NS_ATOM}}}updated", _stamp(datetime.now(UTC)))
    _sub(entry, f"{{{NS_ATOM}}}summary", message)
    author = _sub(entry, f"{{{NS_ATOM}}}author")
    _sub(author, f"{{{NS_ATOM}}}name", "arXiv api core")
    ET.indent(feed, space="  ")
    return b"<?xml version='1.0' encoding='UTF-8'?>\n" + ET.tostring(feed, encoding="utf-8") + b"\n"
