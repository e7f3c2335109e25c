"""arXiv ``search_query`` from free text: the user's words as ``all:`` terms, arXiv's own
syntax in them neutralised, an optional submission-date range."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime

from models.errors import ArxivQueryError

_FIELD_PREFIX = re.compile(
    r"\b(?:ti|au|abs|co|jr|cat|rn|id|all|submittedDate|lastUpdatedDate)\s*:", re.IGNORECASE
)
# A word: letters/digits, optionally joined by - or . ("self-supervised", "3.5", "GPT-4").
_WORD = re.compile(r"[^\W_]+(?:[-.][^\W_]+)*")
_OPERATORS = {"and", "or", "not", "andnot", "to"}
_STOPWORDS = {
    "a",
    "an",
    "the",
    "of",
    "in",
    "on",
    "for",
    "to",
    "with",
    "by",
    "at",
    "from",
    "as",
    "is",
    "are",
    "be",
    "and",
    "or",
    "about",
    "into",
    "via",
    "using",
    "what",
    "which",
    "how",
    "that",
    "this",
    "these",
    "those",
    "papers",
    "paper",
    "find",
    "recent",
    "latest",
    "me",
    "some",
}
MAX_QUERY_TERMS = 12


def query_terms(text: str) -> list[str]:
    """The words of free text that become ``all:`` terms, lower-cased, de-duplicated, in order.

    arXiv syntax in the text is neutralised: field prefixes (``ti:``) are removed, boolean
    operators and brackets are dropped, quotes and other punctuation never reach arXiv.
    """
    words = _WORD.findall(_FIELD_PREFIX.sub(" ", text))
    lowered = [w.lower() for w in words if w.lower() not in _OPERATORS]
    terms = [w for w in lowered if w not in _STOPWORDS] or lowered
    return list(dict.fromkeys(terms))[:MAX_QUERY_TERMS]


def _date_clause(start_date: date | None, end_date: date | None) -> str | None:
    """``submittedDate:[lo TO hi]`` for an inclusive range (open ends filled); None for none."""
    if start_date is None and end_date is None:
        return None
    lo = (start_date or date(1991, 1, 1)).strftime("%Y%m%d") + "0000"
    hi = (end_date or datetime.now(UTC).date()).strftime("%Y%m%d") + "2359"
    return f"submittedDate:[{lo} TO {hi}]"


_CATEGORY = re.compile(r"[a-z][a-z-]{0,15}(?:\.[A-Za-z-]{1,10})?")


def _filters(
    start_date: date | None, end_date: date | None, categories: Sequence[str] = ()
) -> list[str]:
    """The clauses ANDed to the search words: the date range, the categories ORed."""
    clauses = []
    dates = _date_clause(start_date, end_date)
    if dates:
        clauses.append(dates)
    names = [c for c in categories if _CATEGORY.fullmatch(c)]  # anything else never reaches arXiv
    if names:
        clauses.append("(" + " OR ".join(f"cat:{c}" for c in names) + ")")
    return clauses


def _searchable_terms(text: str) -> list[str]:
    terms = query_terms(text)
    if not terms:
        raise ArxivQueryError(f"query {text!r} has no searchable words")
    return terms


def build_search_query(
    text: str,
    start_date: date | None = None,
    end_date: date | None = None,
    categories: Sequence[str] = (),
) -> str:
    """arXiv ``search_query`` for free text, an optional inclusive submission-date range and
    optional categories (any of them).

    Returns plain text with spaces (``... TO ...``): the HTTP client encodes it exactly once.
    Writing ``+TO+`` here would be encoded again to ``%2BTO%2B`` and break the range.
    """
    search = " AND ".join(f"all:{t}" for t in _searchable_terms(text))
    filters = _filters(start_date, end_date, categories)
    return " AND ".join([f"({search})", *filters]) if filters else search


def build_fallback_query(
    text: str,
    start_date: date | None = None,
    end_date: date | None = None,
    categories: Sequence[str] = (),
) -> str:
    """The looser ``search_query`` to send when :func:`build_search_query` finds too little.

    arXiv ANDs every term, so a long natural-language question ("how do transformers handle
    long context windows efficiently") rarely has every one of its words in a single paper
    and finds little or nothing. Here the same terms are ORed, ``(all:a OR all:b OR ...)``,
    and arXiv's relevance ranks papers that share more of them first; the date range stays
    ANDed, because it is a constraint of the request, not a search word. Same terms, same
    neutralising, same once-only encoding as :func:`build_search_query`.
    """
    search = "(" + " OR ".join(f"all:{t}" for t in _searchable_terms(text)) + ")"
    return " AND ".join([search, *_filters(start_date, end_date, categories)])
