"""The Atom parser against genuine arXiv responses of both generations, and hand-written ones."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest

from deployments.arxiv.atom import FeedParseError, parse_feed
from models.errors import ArxivQueryError
from tests.conftest import FIXTURES, SHARED, shared_path

NS = {
    "a": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "os": "http://a9.com/-/spec/opensearch/1.1/",
}
SHARED_ATOM = SHARED / "arxiv" / "atom"
SHARED_FILES = sorted(SHARED_ATOM.glob("*.xml")) if SHARED_ATOM.exists() else []


def _fold(text: str | None) -> str | None:
    return " ".join(text.split()) if text is not None else None


def _expected(entry: ET.Element) -> dict:
    """Every Paper field read straight from the XML, independently of the parser."""
    raw_id = entry.findtext("a:id", namespaces=NS).strip()
    tail = raw_id.split("/abs/", 1)[1]
    base, _, version = tail.rpartition("v") if "v" in tail.split("/")[-1] else (tail, "", "1")
    links = entry.findall("a:link", NS)
    return {
        "arxiv_id": base,
        "version": int(version),
        "title": _fold(entry.findtext("a:title", namespaces=NS)),
        "abstract": _fold(entry.findtext("a:summary", namespaces=NS)),
        "authors": [
            _fold(a.findtext("a:name", namespaces=NS)) for a in entry.findall("a:author", NS)
        ],
        "author_affiliations": [
            [_fold(x.text) for x in a.findall("arxiv:affiliation", NS)]
            for a in entry.findall("a:author", NS)
        ],
        "url": next(ln.get("href") for ln in links if ln.get("rel") == "alternate"),
        "pdf_url": next((ln.get("href") for ln in links if ln.get("title") == "pdf"), None),
        "published_date": entry.findtext("a:published", namespaces=NS).strip()[:10],
        "updated_date": entry.findtext("a:updated", namespaces=NS).strip()[:10],
        "primary_category": entry.find("arxiv:primary_category", NS).get("term"),
        "categories": [c.get("term") for c in entry.findall("a:category", NS)],
        "doi": _fold(entry.findtext("arxiv:doi", namespaces=NS)),
        "journal_ref": _fold(entry.findtext("arxiv:journal_ref", namespaces=NS)),
        "comment": _fold(entry.findtext("arxiv:comment", namespaces=NS)),
    }


@pytest.mark.parametrize("path", SHARED_FILES, ids=[p.name for p in SHARED_FILES])
def test_genuine_feed_field_by_field(path: Path) -> None:
    root = ET.parse(path).getroot()
    entries = root.findall("a:entry", NS)
    if entries and "/api/errors" in entries[0].findtext("a:id", namespaces=NS):
        with pytest.raises(ArxivQueryError) as info:
            parse_feed(path.read_bytes())
        assert info.value.message == _fold(entries[0].findtext("a:summary", namespaces=NS))
        return
    page = parse_feed(path.read_bytes())
    assert page.total_results == int(root.findtext("os:totalResults", namespaces=NS))
    assert page.start_index == int(root.findtext("os:startIndex", namespaces=NS))
    assert len(page.papers) == len(entries)
    for paper, entry in zip(page.papers, entries, strict=True):
        want = _expected(entry)
        got = paper.model_dump(mode="json")
        if not any(want["author_affiliations"]):
            want["author_affiliations"] = []
        for key, value in want.items():
            assert got[key] == value, f"{path.name} {want['arxiv_id']} field {key}"
        # APA ends with the publisher's DOI when arXiv has one, else arXiv's own.
        doi = want["doi"] or f"10.48550/arXiv.{want['arxiv_id']}"
        assert paper.cited().citation.endswith(f"https://doi.org/{doi}")


def test_both_generations_are_present() -> None:
    shared_path("arxiv", "atom")  # a skip without ../shared (a failure in CI)
    names = {p.name.split("_")[0][:3] for p in SHARED_FILES}
    assert {"new", "cla"} <= names


def test_handwritten_classic_feed() -> None:
    page = parse_feed((FIXTURES / "atom" / "classic_wrapped_oldstyle.xml").read_bytes())
    assert page.total_results == 57
    first, second = page.papers
    assert first.arxiv_id == "hep-ex/0406020"
    assert first.version == 3
    assert first.title == "A Hand-Written Measurement of Neutrino Oscillations at Long Baselines"
    assert first.abstract.startswith(
        "We report a measurement of neutrino oscillation parameters using"
    )
    assert "\n" not in first.abstract and "  " not in first.abstract
    assert first.authors == ["Maria van der Berg", "J. -P. Dupont"]
    assert first.author_affiliations == [["Nikhef"], []]
    assert first.published_date == date(2004, 6, 8)
    assert first.updated_date == date(2004, 9, 14)
    assert first.categories == ["hep-ex", "hep-ph"]
    assert first.primary_category == "hep-ex"
    assert first.doi == "10.1000/fixture.2004.1"
    assert first.journal_ref == "Fix. Phys. J. 1 (2004) 1"
    assert first.comment == "12 pages, 4 figures"
    assert first.url == "http://arxiv.org/abs/hep-ex/0406020v3"
    assert first.pdf_url == "http://arxiv.org/pdf/hep-ex/0406020v3"
    assert first.cited().citation.startswith("van der Berg, M., & Dupont, J.-P. (2004).")
    # A title that is literally "0" survives (a truthiness check would lose it).
    assert second.title == "0"
    assert second.arxiv_id == "1901.00042"


def test_handwritten_error_feed_carries_arxivs_message() -> None:
    with pytest.raises(ArxivQueryError) as info:
        parse_feed((FIXTURES / "atom" / "error_malformed_query.xml").read_bytes())
    assert info.value.message == "Invalid query string: 'all:foo AND (all:bar'"


def test_entity_expansion_is_refused() -> None:
    with pytest.raises(FeedParseError):
        parse_feed((FIXTURES / "atom" / "entity_bomb.xml").read_bytes())


@pytest.mark.parametrize("body", [b"", b"<html>502 Bad Gateway</html>", b"<feed", b"\x00\x01"])
def test_garbage_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(FeedParseError):
        parse_feed(body)


def test_size_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    import deployments.arxiv.atom as fetcher

    monkeypatch.setattr(fetcher, "MAX_FEED_BYTES", 100)
    with pytest.raises(FeedParseError, match="cap"):
        parse_feed((FIXTURES / "atom" / "glitch_empty_page.xml").read_bytes())
