"""Request validation: every bad input is refused with the field named."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from models.paper import Paper
from models.research import MemorySearchRequest, Provenance, ResearchRequest


def _error_fields(exc: ValidationError) -> set[str]:
    return {".".join(str(p) for p in err["loc"]) or "__root__" for err in exc.errors()}


def test_defaults_and_stripping() -> None:
    req = ResearchRequest.model_validate({"query": "  graph   neural\tnetworks \n"})
    assert req.query == "graph neural networks"
    assert req.max_papers == 5
    assert req.include_summaries is True
    assert req.start_date is None and req.end_date is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"query": "ab"}, "query"),
        ({"query": "    ab    "}, "query"),
        ({"query": "x" * 501}, "query"),
        ({"query": "abc\x00def"}, "query"),
        ({"query": "abc\x1bdef"}, "query"),
        ({"query": "valid query", "max_papers": 0}, "max_papers"),
        ({"query": "valid query", "max_papers": 21}, "max_papers"),
        ({"query": "valid query", "start_date": "2023-02-30"}, "start_date"),
        ({"query": "valid query", "end_date": "2023-13-01"}, "end_date"),
        ({"query": "valid query", "start_date": 20230101}, "start_date"),
        ({"query": "valid query", "start_date": "yesterday"}, "start_date"),
        ({"query": "valid query", "include_summaries": "maybe"}, "include_summaries"),
        ({"query": "valid query", "max_paper": 3}, "max_paper"),
        ({}, "query"),
    ],
)
def test_bad_input_names_the_field(payload: dict, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        ResearchRequest.model_validate(payload)
    assert field in _error_fields(info.value)


def test_start_after_end_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        ResearchRequest.model_validate(
            {"query": "valid query", "start_date": "2024-05-02", "end_date": "2024-05-01"}
        )
    assert "start_date" in str(info.value)


def test_real_dates_accepted_inclusive_range() -> None:
    req = ResearchRequest.model_validate(
        {"query": "q q q", "start_date": "2024-02-29", "end_date": "2024-02-29"}
    )
    assert req.start_date == req.end_date == date(2024, 2, 29)


def test_memory_search_request_validates_like_execute() -> None:
    with pytest.raises(ValidationError) as info:
        MemorySearchRequest.model_validate({"query": "a\x07b c", "limit": 0})
    assert {"query", "limit"} <= _error_fields(info.value)


def _paper(**over: object) -> Paper:
    base: dict = {
        "title": "From stripe to checkerboard order on the square lattice",
        "authors": ["Adrian Del Maestro", "Bernd Rosenow", "Subir Sachdev"],
        "abstract": "We discuss.",
        "url": "http://arxiv.org/abs/cond-mat/0603029v1",
        "published_date": "2006-03-02",
        "arxiv_id": "cond-mat/0603029",
        "primary_category": "cond-mat.str-el",
    }
    base.update(over)
    return Paper.model_validate(base).cited()


def test_citations_rendered_from_metadata() -> None:
    paper = _paper()
    assert paper.citation == (
        "Del Maestro, A., Rosenow, B., & Sachdev, S. (2006). From stripe to checkerboard order "
        "on the square lattice (arXiv:cond-mat/0603029). arXiv. "
        "https://doi.org/10.48550/arXiv.cond-mat/0603029"
    )
    assert paper.bibtex.startswith("@misc{delmaestro2006stripe,")
    # Family names braced: BibTeX would read "Adrian Del Maestro" as surname "Maestro".
    assert "author={{Del Maestro}, Adrian and Rosenow, Bernd and Sachdev, Subir}" in paper.bibtex
    assert "doi={10.48550/arXiv.cond-mat/0603029}" in paper.bibtex
    assert "primaryClass={cond-mat.str-el}" in paper.bibtex


def test_citation_cannot_be_supplied_by_a_caller() -> None:
    paper = _paper(citation="Written by a model", bibtex="@misc{x}")
    assert "model" not in paper.citation
    assert paper.bibtex.startswith("@misc{delmaestro")


def test_apa_many_authors_uses_ellipsis() -> None:
    names = [f"Given{i} Family{i}" for i in range(25)]
    cite = _paper(authors=names).citation
    assert "Family18, G." in cite and "Family19" not in cite
    assert "… Family24, G." in cite  # APA 7's ellipsis before the last author (citeproc)


def test_relevance_bounds() -> None:
    with pytest.raises(ValidationError):
        _paper(relevance_score=1.5)


def test_provenance_timestamp_is_utc_aware() -> None:
    prov = Provenance(
        arm_id="a",
        request_id="r",
        sources=["arxiv"],
        method="m",
        models={},
        timestamp="2026-01-01T12:00:00+02:00",
    )
    assert prov.timestamp.utcoffset() is not None
    assert prov.timestamp.hour == 10
