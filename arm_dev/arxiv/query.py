"""arXiv's ``search_query`` syntax, evaluated over the stand-in's records: the subset the arm
and its tests use (``field:term``, ``field:"phrase"``, date ranges, brackets, AND/OR), parsed to a
tree, matched and ranked like a search engine."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from arm_dev.arxiv.records import Record

_TOKEN = re.compile(
    r"(?P<open>\()|(?P<close>\))"
    r"|(?P<field>\w+):"
    r'(?:\[(?P<lo>\d+) TO (?P<hi>\d+)\]|"(?P<phrase>[^"]+)"|(?P<term>[^\s()"]+))'
    r"|(?P<word>[^\s()]+)"
)
_FIELDS = {
    "all",
    "ti",
    "abs",
    "au",
    "cat",
    "co",
    "jr",
    "id",
    "rn",
    "submittedDate",
    "lastUpdatedDate",
}
_DATE_FIELDS = {"submittedDate", "lastUpdatedDate"}


class QueryError(ValueError):
    """A search_query arXiv would refuse; the message is what the error feed says."""


@dataclass(frozen=True)
class _Term:
    """``field:term`` or ``field:"a phrase"``: matches a word (or phrase) starting there."""

    field: str
    needle: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class _Range:
    """``submittedDate:[lo TO hi]`` (or ``lastUpdatedDate``), inclusive to the minute."""

    field: str
    lo: datetime
    hi: datetime


@dataclass(frozen=True)
class _Group:
    """Clauses joined by one operator, ``AND`` or ``OR`` (mixing needs brackets)."""

    op: str
    children: tuple[_Term | _Range | _Group, ...]


_Node = _Term | _Range | _Group


def parse_query(query: str) -> _Node:
    """The syntax tree of a search_query, or QueryError.

    The subset of arXiv's syntax the arm and its tests use: ``field:term``, ``field:"phrase"``,
    ``submittedDate:[YYYYMMDDhhmm TO YYYYMMDDhhmm]``, brackets, and ``AND``/``OR`` (one of the
    two per bracket level), e.g. ``(all:a OR all:b) AND submittedDate:[...]``.
    """
    invalid = QueryError(f"Invalid query string: '{query}'")
    tokens: list[re.Match[str]] = []
    pos = 0
    while True:
        while pos < len(query) and query[pos].isspace():
            pos += 1
        if pos == len(query):
            break
        match = _TOKEN.match(query, pos)
        if match is None:  # pragma: no cover - the word alternative matches any non-space
            raise invalid
        tokens.append(match)
        pos = match.end()
    at = 0

    def operand() -> _Node:
        nonlocal at
        if at == len(tokens):
            raise invalid
        tok = tokens[at]
        at += 1
        if tok.group("open"):
            node = expression()
            if at == len(tokens) or not tokens[at].group("close"):
                raise invalid
            at += 1
            return node
        fld = tok.group("field")
        if fld is None or fld not in _FIELDS:
            if tok.group("word") == "ANDNOT":
                raise QueryError(f"unsupported operator in query string: '{query}'")
            raise invalid
        if tok.group("lo") is not None:
            if fld not in _DATE_FIELDS:
                raise invalid
            try:
                lo = datetime.strptime(tok.group("lo"), "%Y%m%d%H%M").replace(tzinfo=UTC)
                hi = datetime.strptime(tok.group("hi"), "%Y%m%d%H%M").replace(tzinfo=UTC)
            except ValueError:
                raise invalid from None
            return _Range(fld, lo, hi.replace(second=59))
        if fld in _DATE_FIELDS:
            raise invalid
        needle = (tok.group("phrase") or tok.group("term")).lower()
        return _Term(fld, needle, re.compile(r"(?<!\w)" + re.escape(needle)))

    def expression() -> _Node:
        nonlocal at
        children = [operand()]
        op: str | None = None
        while at < len(tokens) and tokens[at].group("word") in ("AND", "OR", "ANDNOT"):
            word = tokens[at].group("word")
            if word == "ANDNOT":
                raise QueryError(f"unsupported operator in query string: '{query}'")
            if op is not None and word != op:
                raise invalid  # "a AND b OR c": brackets say which is meant
            op = word
            at += 1
            children.append(operand())
        return children[0] if op is None else _Group(op, tuple(children))

    tree = expression()
    if at != len(tokens):
        raise invalid
    return tree


def _match(node: _Node, rec: Record) -> tuple[bool, int, frozenset[tuple[str, str]]]:
    """(matches, term-frequency score, the distinct terms it matched) for one record."""
    if isinstance(node, _Range):
        stamp = rec.published if node.field == "submittedDate" else rec.updated
        return node.lo <= stamp <= node.hi, 0, frozenset()
    if isinstance(node, _Term):
        haystack = {
            "ti": rec.title.lower(),
            "abs": rec.abstract.lower(),
            "au": " ".join(rec.authors).lower(),
            "cat": " ".join(rec.categories).lower(),
            "id": rec.arxiv_id,
        }.get(node.field, rec.search_text)
        hits = len(node.pattern.findall(haystack))
        if not hits:
            return False, 0, frozenset()
        score = hits + 3 * rec.title.lower().count(node.needle)
        return True, score, frozenset({(node.field, node.needle)})
    score = 0
    terms: frozenset[tuple[str, str]] = frozenset()
    matched_any = False
    for child in node.children:
        matched, child_score, child_terms = _match(child, rec)
        if not matched:
            if node.op == "AND":
                return False, 0, frozenset()
            continue
        matched_any = True
        score += child_score
        terms |= child_terms
    return matched_any, score, terms


def evaluate(query: str, records: list[Record]) -> list[Record]:
    """Records matching a search_query, best first.

    Like a search engine: records that match more distinct terms first (what makes an ORed
    query useful), then by term frequency, a title hit counting extra; then by id.
    """
    tree = parse_query(query)
    scored = []
    for rec in records:
        matched, score, terms = _match(tree, rec)
        if matched:
            scored.append((len(terms), score, rec))
    scored.sort(key=lambda item: (-item[0], -item[1], item[2].arxiv_id))
    return [rec for _, _, rec in scored]
