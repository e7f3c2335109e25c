"""A local stand-in for arXiv's API: ``GET /api/query`` answered with real Atom.

It serves JSON Lines records (arXiv ``.abs`` header names or the Kaggle OAI snapshot schema, as
in ``../shared/arxiv/corpus/``) or replays one recorded Atom file for every query, and it can
misbehave on purpose, as arXiv does::

    POST /_control {"mode": MODE, "count": N, ...options}  next N requests misbehave (N=-1: all)
    GET  /_requests                    every request seen, logged on arrival: start/end times,
                                       query, status, mode, bytes sent
    POST /_reset                       clear the log and the fault mode

Modes (options in brackets)::

    ok            a normal answer
    429 503 500   that status, body "Rate exceeded." (429) or "Service Unavailable"
    406           arXiv's other throttle: 406, body "Rate exceeded."     [retry_after: S]
    rate_exceeded HTTP 200 with the plain body "Rate exceeded."          [retry_after: S]
    slow          nothing for delay_s seconds, then the normal answer     [delay_s: 5]
    trickle       headers, then the normal feed a few bytes every interval_s (each read is
                  quick, the whole answer is not)                         [interval_s: 0.1]
    reset         the connection reset (RST) before any answer
    empty         HTTP 200, valid Atom, totalResults > 0 and no entries (arXiv's glitch)
    truncated     the normal feed cut in half: a complete HTTP message with half an XML document,
                  or with drop=true the full Content-Length announced and the connection closed
                  half-way                                               [drop: false]
    html          an HTML error page (a proxy's)                         [status: 200]
    bad_gzip      "Content-Encoding: gzip" on a body that is not gzip
    huge          well-formed XML of size_bytes, streamed; without a Content-Length when
                  declare_length is false                 [size_bytes: 64 MiB, declare_length]
    bomb          an Atom feed with a billion-laughs entity bomb in its DTD
    xxe           an Atom feed with an external entity (file:///etc/passwd)
    error         arXiv's error feed                       [message, status: 400 (old arXiv: 200)]

``retry_after`` works with every mode that answers. A mode with count N answers the next N
requests that way and then recovers, so a client's retries can be shown to succeed.

Run it: ``python -m arm_dev.arxiv_standin --port 8081 [--corpus FILE ...] [--atom FILE]``, then
``ARXIV_API_URL=http://127.0.0.1:8081/api/query make run``. It enforces no politeness interval
of its own (it is not arXiv); it only records when requests arrived, so tests can check ours.
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import json
import logging
import re
import socket
import struct
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from xml.etree import ElementTree as ET

from arm_dev.background_server import BackgroundServer

logger = logging.getLogger(__name__)

NS_ATOM = "http://www.w3.org/2005/Atom"
NS_ARXIV = "http://arxiv.org/schemas/atom"
NS_OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
ET.register_namespace("", NS_ATOM)
ET.register_namespace("arxiv", NS_ARXIV)
ET.register_namespace("opensearch", NS_OPENSEARCH)

SHARED_CORPUS = (
    Path(__file__).resolve().parents[2]
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


# Characters XML 1.0 cannot carry (a real abstract has held a \x18): arXiv's feed never has them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


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


# ---------------------------------------------------------------------------------------------
# search_query evaluation (the subset of arXiv's syntax the arm and its tests use: AND/OR)
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Atom rendering, shaped like the 2025+ backend
# ---------------------------------------------------------------------------------------------


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


# Hostile feeds: a parser that expands entities blows up (billion laughs: 10^9 "lol"s from a
# 1 kB document) or reads local files (an external entity). arXiv never sends a DTD.
BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE feed [\n<!ENTITY lol "lol">\n'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode()
        for i in range(1, 10)
    )
    + b']>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol9;</title></feed>\n'
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?>\n<!DOCTYPE feed [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    b'<feed xmlns="http://www.w3.org/2005/Atom"><title>&xxe;</title></feed>\n'
)


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------


class StandIn(BackgroundServer):
    """The stand-in's state and server; ``with StandIn(...) as s:`` serves on a thread."""

    def __init__(
        self,
        records: list[Record] | None = None,
        *,
        atom_file: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_s: float = 0.0,
    ) -> None:
        self.records = records or []
        self.by_id = {r.arxiv_id: r for r in self.records}
        self.atom = atom_file.read_bytes() if atom_file else None
        self.latency_s = latency_s
        self.lock = threading.Lock()
        self.log: list[dict[str, Any]] = []
        self.fault: dict[str, Any] = {"mode": "ok", "count": 0}
        super().__init__(host, port, _handler_for(self))

    @property
    def url(self) -> str:
        return f"{self.origin}/api/query"

    def set_fault(self, mode: str, count: int = 1, **options: Any) -> None:
        with self.lock:
            self.fault = {"mode": mode, "count": count, **options}

    def reset(self) -> None:
        with self.lock:
            self.log.clear()
            self.fault = {"mode": "ok", "count": 0}

    def requests(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.log]

    def _take_fault(self) -> dict[str, Any]:
        with self.lock:
            fault = dict(self.fault)
            if fault["mode"] == "ok" or fault["count"] == 0:
                return {"mode": "ok"}
            if fault["count"] > 0:
                self.fault["count"] -= 1
            return fault

    def answer(
        self, params: dict[str, list[str]], fault: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) for one /api/query request; ``fault``: the mode to answer
        with (None: take the next one). Modes that act on the connection itself (reset,
        trickle, a dropped body, huge) are the handler's; this gives them the normal answer."""
        fault = self._take_fault() if fault is None else fault
        mode = fault["mode"]
        if self.latency_s:
            time.sleep(self.latency_s)
        if mode == "slow":
            time.sleep(float(fault.get("delay_s", 5.0)))
        status, headers, body = self._answer(params, fault)
        if fault.get("retry_after") is not None:
            headers["Retry-After"] = str(fault["retry_after"])
        return status, headers, body

    def _answer(
        self, params: dict[str, list[str]], fault: dict[str, Any]
    ) -> tuple[int, dict[str, str], bytes]:
        mode = fault["mode"]
        text = {"Content-Type": "text/plain"}
        if mode in ("429", "503", "500", "406"):
            body = b"Service Unavailable\n" if mode in ("503", "500") else b"Rate exceeded.\n"
            return int(mode), text, body
        if mode == "rate_exceeded":
            return 200, text, b"Rate exceeded.\n"
        if mode == "error":
            msg = str(fault.get("message", "Invalid query string"))
            return int(fault.get("status", 400)), {}, render_error(msg)
        if mode == "html":
            html = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
            html += b"<body><h1>Bad Gateway</h1><p>The proxy got no answer.</p></body></html>\n"
            return int(fault.get("status", 200)), {"Content-Type": "text/html"}, html
        if mode == "bomb":
            return 200, {}, BILLION_LAUGHS
        if mode == "xxe":
            return 200, {}, EXTERNAL_ENTITY
        query = params.get("search_query", [""])[0]
        id_list = [i for i in params.get("id_list", [""])[0].split(",") if i]
        try:
            start = int(params.get("start", ["0"])[0])
            per_page = int(params.get("max_results", ["10"])[0])
        except ValueError:
            return 400, {}, render_error("start and max_results must be integers")
        if per_page < 0 or per_page > 30000:
            return 400, {}, render_error("max_results must be between 0 and 30000")
        title = (
            f"search_query={query}&id_list={','.join(id_list)}&start={start}&max_results={per_page}"
        )
        if self.atom is not None:
            return 200, {}, self.atom
        try:
            if id_list:
                found = [
                    self.by_id[i.split("v")[0]] for i in id_list if i.split("v")[0] in self.by_id
                ]
                if query:
                    found = evaluate(query, found)
            else:
                found = evaluate(query, self.records)
        except QueryError as exc:
            return 400, {}, render_error(str(exc))
        page = found[start : start + per_page]
        if mode == "empty":
            page = []  # arXiv's glitch: totalResults says there are entries, the page has none
        body = render_feed(page, len(found), start, per_page, title)
        if mode == "truncated" and not fault.get("drop"):
            body = body[: len(body) // 2]  # a whole HTTP message holding half a document
        if mode == "bad_gzip":
            return 200, {"Content-Encoding": "gzip"}, body
        return 200, {}, body


def _handler_for(state: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:
            logger.debug("stand-in: " + fmt, *args)

        def _send(
            self,
            status: int,
            body: bytes,
            headers: dict[str, str] | None = None,
            *,
            every_s: float | None = None,
            stop_at: int | None = None,
        ) -> int:
            """Send an answer; returns the body bytes sent. ``every_s``: 16 bytes at a time,
            that many seconds apart (trickle); ``stop_at``: close the connection after that
            many bytes although the Content-Length promised all of them."""
            self.send_response(status)
            ctype = "application/atom+xml; charset=utf-8"
            for key, value in (headers or {}).items():
                if key.lower() == "content-type":
                    ctype = value
                else:
                    self.send_header(key, value)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if stop_at is not None:
                self.wfile.write(body[:stop_at])
                self.close_connection = True
                return stop_at
            if every_s is None:
                self.wfile.write(body)
                return len(body)
            sent = 0
            for at in range(0, len(body), 16):
                self.wfile.write(body[at : at + 16])
                self.wfile.flush()
                sent += len(body[at : at + 16])
                time.sleep(float(every_s))
            return sent

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/_requests":
                self._send(
                    200, json.dumps(state.requests()).encode(), {"Content-Type": "application/json"}
                )
                return
            if url.path != "/api/query":
                self._send(404, b"not found\n", {"Content-Type": "text/plain"})
                return
            params = parse_qs(url.query, keep_blank_values=True)
            fault = state._take_fault()
            mode = fault["mode"]
            entry: dict[str, Any] = {
                "t_start": time.time(),
                "search_query": params.get("search_query", [""])[0],
                "raw_query": url.query,
                "user_agent": self.headers.get("User-Agent", ""),
                "mode": mode,
                "t_end": None,
                "status": None,
                "bytes_sent": 0,
            }
            with state.lock:  # logged on arrival: a client that hangs up is still seen
                state.log.append(entry)
            try:
                if mode == "reset":
                    self._reset()
                    return
                status, headers, body = state.answer(params, fault)
                with state.lock:
                    entry["status"] = status
                if mode == "huge":
                    sent = self._send_huge(fault, headers, entry)
                elif mode == "trickle":
                    sent = self._send(status, body, headers, every_s=fault.get("interval_s", 0.1))
                elif mode == "truncated" and fault.get("drop"):
                    sent = self._send(status, body, headers, stop_at=len(body) // 2)
                else:
                    sent = self._send(status, body, headers)
                with state.lock:
                    entry["bytes_sent"] = sent
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client hung up (its timeout or its cap)
            finally:
                with state.lock:
                    entry["t_end"] = time.time()

        def _reset(self) -> None:
            """Close with a TCP RST (SO_LINGER 0), no answer: what a dying front end does."""
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # The real close (the RST) comes when finish() drops the last file on the socket,
            # before socketserver's shutdown(SHUT_WR) could send a polite FIN first.
            self.connection.close()
            self.close_connection = True

        def _send_huge(
            self, fault: dict[str, Any], headers: dict[str, str], entry: dict[str, Any]
        ) -> int:
            """Well-formed XML of ``size_bytes`` (one long summary), streamed in 64 KiB
            chunks; without a Content-Length (read until close) unless ``declare_length``.
            ``entry["bytes_sent"]`` grows as it goes: how much went out before a hang-up."""
            size = int(fault.get("size_bytes", 64 * 1024 * 1024))
            head = (
                b"<?xml version='1.0' encoding='UTF-8'?>\n"
                b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><summary>'
            )
            tail = b"</summary></entry></feed>\n"
            pad = size - len(head) - len(tail)
            self.send_response(200)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
            if fault.get("declare_length", True):
                self.send_header("Content-Length", str(size))
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(head)
            sent = len(head)
            chunk = b"lol " * (16 * 1024)
            while pad > 0:
                part = chunk[: min(pad, len(chunk))]
                self.wfile.write(part)
                sent += len(part)
                pad -= len(part)
                with state.lock:
                    entry["bytes_sent"] = sent
            self.wfile.write(tail)
            return sent + len(tail)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            payload = json.loads(self.rfile.read(length) or b"{}")
            if self.path == "/_control":
                mode = str(payload.pop("mode", "ok"))
                count = int(payload.pop("count", 1))
                state.set_fault(mode, count, **payload)
            elif self.path == "/_reset":
                state.reset()
            else:
                self._send(404, b"not found\n", {"Content-Type": "text/plain"})
                return
            self._send(200, b"{}", {"Content-Type": "application/json"})

    return Handler


def default_corpus() -> list[Path]:
    """The shared real corpus when it is beside the checkout, else the small packaged sample."""
    return [SHARED_CORPUS] if SHARED_CORPUS.exists() else [SAMPLE_CORPUS]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--corpus", type=Path, nargs="*", help="JSON Lines records")
    parser.add_argument("--atom", type=Path, help="replay this Atom file for every query")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per answer")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    records = load_records(args.corpus or default_corpus()) if not args.atom else []
    state = StandIn(
        records, atom_file=args.atom, host=args.host, port=args.port, latency_s=args.latency
    )
    logger.info("arXiv stand-in on %s with %d records", state.url, len(records))
    try:
        state.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
