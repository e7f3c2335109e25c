"""Query building: user text never becomes arXiv syntax; dates are encoded exactly once."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs

import httpx
import pytest

from deployments.arxiv.query import build_fallback_query, build_search_query, query_terms
from models.errors import ArxivQueryError


def test_free_text_becomes_all_terms() -> None:
    assert build_search_query("Graph neural networks for molecules") == (
        "all:graph AND all:neural AND all:networks AND all:molecules"
    )


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("ti:x OR au:y", ["x", "y"]),
        ("cat:cs.LG ANDNOT abs:transformer", ["cs.lg", "transformer"]),
        (
            '(all:"quantum error") AND submittedDate:[2020 TO 2021]',
            ["quantum", "error", "2020", "2021"],
        ),
        (
            "self-supervised GPT-4 and 3.5 %28evil%29",
            ["self-supervised", "gpt-4", "3.5", "28evil", "29"],
        ),
        ("id_list=1234&start=5", ["id", "list", "1234", "start", "5"]),
    ],
)
def test_operators_and_prefixes_are_neutralised(text: str, terms: list[str]) -> None:
    assert query_terms(text) == terms
    query = build_search_query(text)
    for token in ("OR", "ANDNOT", "ti:", "au:", "abs:", "cat:", "(", '"', "[", "&", "="):
        assert token not in query.replace(" AND ", " ").replace("all:", "")


def test_stopwords_only_query_still_searches() -> None:
    assert query_terms("the of and") == ["the", "of"]


def test_no_words_is_a_query_error() -> None:
    with pytest.raises(ArxivQueryError, match="no searchable words"):
        build_search_query("!!! ??? ---")


def test_date_range_is_inclusive_and_encoded_once() -> None:
    query = build_search_query("dark matter", date(2023, 1, 1), date(2023, 3, 31))
    assert query == "(all:dark AND all:matter) AND submittedDate:[202301010000 TO 202303312359]"
    url = httpx.URL("https://export.arxiv.org/api/query", params={"search_query": query})
    # What arXiv decodes is exactly what we built: no "+TO+" double encoding (%2BTO%2B).
    assert "%2B" not in str(url)
    assert parse_qs(url.query.decode())["search_query"] == [query]


def test_open_ended_ranges() -> None:
    assert "[199101010000 TO 202001012359]" in build_search_query(
        "dark matter", None, date(2020, 1, 1)
    )
    assert build_search_query("dark matter", date(2020, 1, 1)).startswith("(all:dark")


def test_fallback_ors_the_same_terms() -> None:
    text = "How do transformers handle long context windows efficiently?"
    assert build_fallback_query(text) == (
        "(all:do OR all:transformers OR all:handle OR all:long OR all:context OR all:windows"
        " OR all:efficiently)"
    )
    assert build_fallback_query(text).replace(" OR ", " AND ")[1:-1] == build_search_query(text)


def test_fallback_keeps_the_date_range_anded_and_encoded_once() -> None:
    query = build_fallback_query("dark matter", date(2023, 1, 1), date(2023, 3, 31))
    assert query == "(all:dark OR all:matter) AND submittedDate:[202301010000 TO 202303312359]"
    url = httpx.URL("https://export.arxiv.org/api/query", params={"search_query": query})
    assert "%2B" not in str(url)
    assert parse_qs(url.query.decode())["search_query"] == [query]
    assert build_fallback_query("dark matter", None, date(2020, 1, 1)).endswith(
        "AND submittedDate:[199101010000 TO 202001012359]"
    )


def test_fallback_neutralises_user_syntax_like_the_and_query() -> None:
    query = build_fallback_query('ti:x OR au:y ANDNOT (abs:"z")')
    assert query == "(all:x OR all:y OR all:z)"
    assert build_fallback_query("single") == "(all:single)"


def test_fallback_with_no_words_is_a_query_error() -> None:
    with pytest.raises(ArxivQueryError, match="no searchable words"):
        build_fallback_query("!!! ??? ---")


def test_categories_are_ored_and_anded_to_the_words() -> None:
    assert build_search_query("graph networks", categories=["cs.LG", "stat.ML"]) == (
        "(all:graph AND all:networks) AND (cat:cs.LG OR cat:stat.ML)"
    )
    assert build_fallback_query(
        "graph networks", date(2024, 1, 1), date(2024, 1, 31), ["hep-th"]
    ) == (
        "(all:graph OR all:networks) AND submittedDate:[202401010000 TO 202401312359]"
        " AND (cat:hep-th)"
    )
    # Names that are not arXiv categories never reach arXiv.
    assert build_search_query("graph", categories=["cs.LG) OR all:x"]) == "all:graph"
