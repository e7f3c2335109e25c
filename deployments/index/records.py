"""arXiv bulk metadata (JSON Lines, plain or gzip) -> index records. Reads the Kaggle
``arxiv-metadata-oai-snapshot`` schema and arXiv's ``.abs`` header names; streams line by line,
so memory stays flat whatever the file size, and turns every bad line into a ``BadRecord``
instead of an exception."""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO

from models.paper import Paper

# Far above any real record; bounds memory when a corrupt file has no newlines for megabytes.
MAX_LINE_BYTES = 8 * 1024 * 1024
EARLIEST = date(1991, 1, 1)  # arXiv opened in August 1991: anything older is a broken date
_GZIP_MAGIC = b"\x1f\x8b"
_DRAIN_BYTES = 1024 * 1024  # how much of an oversized line is read at a time while skipping it
_REASON_VALUE_CHARS = 60  # a reason quotes at most this much of the offending value

# New-style ids (0704.0001, 2301.12345) and old-style ones (hep-th/9901001, math.GT/0309136),
# each with an optional version suffix that the index does not keep.
_ID_RE = re.compile(
    r"(?P<id>\d{4}\.\d{4,5}|[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{7})(?:v(?P<version>\d+))?"
)
# A trailing note in parentheses: ``.abs`` dates carry the size and flags of that version
# ("... GMT   (443kb)", "(377kb,D)"); listing ids may be "2006.00011 (*cross-listing*)".
_NOTE_RE = re.compile(r"\s*\([^()]*\)\s*$")
_REVISED_RE = re.compile(r"Date \(revised v(\d+)\)")
_ISO_DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")  # Kaggle's update_date
_AUTHOR_SPLIT_RE = re.compile(r",|\s+and\s+")
_ET_AL_RE = re.compile(r"(?:^|\s+)et al\.?$")  # "B. Aubert, et al": not a name
# Written after a comma in the ``authors`` string ("John Smith, Jr."), yet part of the name.
_NAME_SUFFIXES = frozenset({"Jr", "Jr.", "Sr", "Sr.", "II", "III", "IV"})


class RecordError(ValueError):
    """A record that cannot be indexed; the message is the short reason."""


@dataclass(frozen=True)
class IndexRecord:
    """One paper as the index stores it: the metadata of its latest version."""

    arxiv_id: str  # version-less: 2104.12255 or hep-th/9901001
    version: int  # number of versions, >= 1
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]  # the first is the primary
    published: date  # first version, UTC
    updated: date  # last version, UTC
    doi: str | None = None
    journal_ref: str | None = None
    comment: str | None = None

    @property
    def embedding_text(self) -> str:
        """What the embedder sees: the same string as ``Paper.embedding_text``."""
        return f"{self.title}. {self.abstract}"

    def to_json(self) -> str:
        """The record as one JSON object (dates ISO), for carrying it through a Ray dataset."""
        return json.dumps(asdict(self), default=date.isoformat, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> IndexRecord:
        """The record ``to_json`` wrote."""
        fields = json.loads(text)
        for name in ("published", "updated"):
            fields[name] = date.fromisoformat(fields[name])
        return cls(**fields)

    def to_paper(self) -> Paper:
        """The record as the arm returns papers (citations rendered by ``Paper``)."""
        return Paper(
            arxiv_id=self.arxiv_id,
            version=self.version,
            title=self.title,
            authors=list(self.authors),
            abstract=self.abstract,
            url=f"https://arxiv.org/abs/{self.arxiv_id}",
            pdf_url=f"https://arxiv.org/pdf/{self.arxiv_id}v{self.version}",
            published_date=self.published,
            updated_date=self.updated,
            primary_category=self.categories[0] if self.categories else None,
            categories=list(self.categories),
            doi=self.doi,
            journal_ref=self.journal_ref,
            comment=self.comment,
        )


@dataclass(frozen=True)
class BadRecord:
    """A line that gave no record: where it is (``line`` is 1-based) and a short reason."""

    path: str
    line: int
    reason: str


def _quote(value: object) -> str:
    text = " ".join(str(value).split())
    if len(text) > _REASON_VALUE_CHARS:
        return text[: _REASON_VALUE_CHARS - 3] + "..."
    return text


def _fold(value: object, field: str) -> str | None:
    """A string field with its whitespace folded; None when absent or empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"not a string: {field}")
    folded = " ".join(value.split())
    try:
        # A JSON "\ud800" escape decodes to a lone surrogate, which no store can encode later.
        folded.encode("utf-8")
    except UnicodeEncodeError:
        raise RecordError(f"invalid UTF-8: {field}") from None
    return folded if folded != "" else None


def _first(obj: dict[str, Any], *keys: str) -> Any:
    """The value under the first key present (Kaggle and ``.abs`` spell fields differently)."""
    for key in keys:
        if key in obj:
            return obj[key]
    return None


def _split_id(value: object) -> tuple[str, int | None]:
    if not isinstance(value, str):
        raise RecordError("missing field: id" if value is None else "not a string: id")
    match = _ID_RE.fullmatch(_NOTE_RE.sub("", value).strip())
    if not match:
        raise RecordError(f"odd id: {_quote(value)}")
    version = match.group("version")
    return match.group("id"), int(version) if version else None


def _day(value: object, today: date) -> date:
    """A created date (RFC 2822, maybe with an ``.abs`` size suffix) or an ISO date -> UTC day."""
    if not isinstance(value, str):
        raise RecordError(f"odd date: {_quote(value)}")
    text = _NOTE_RE.sub("", value).strip()
    try:
        if _ISO_DAY_RE.fullmatch(text):
            day = date.fromisoformat(text)
        else:
            moment = parsedate_to_datetime(text)
            # "-0000" parses naive; RFC 2822 means UTC by it, not the local zone.
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            day = moment.astimezone(UTC).date()
    except (TypeError, ValueError, IndexError, OverflowError):
        raise RecordError(f"odd date: {_quote(value)}") from None
    if day < EARLIEST or day > today + timedelta(days=1):
        raise RecordError(f"odd date: {_quote(value)}")
    return day


def _version_number(tag: object, position: int) -> int:
    """``"v3"`` -> 3; the list position when the tag is not of that form."""
    if isinstance(tag, str) and tag[:1] == "v" and tag[1:].isdigit():
        return int(tag[1:])
    return position


def _dates(obj: dict[str, Any], today: date) -> tuple[list[date], int | None]:
    """The dates of every version, oldest first, and the version count (None: unknown)."""
    versions = obj.get("versions")
    if isinstance(versions, list) and versions:
        created = []
        for position, entry in enumerate(versions, start=1):
            if not isinstance(entry, dict) or "created" not in entry:
                raise RecordError("odd versions")
            number = _version_number(entry.get("version"), position)
            created.append((number, _day(entry["created"], today)))
        return [day for _, day in sorted(created)], len(created)
    if "Date" in obj:
        revised = sorted(
            (int(m.group(1)), _day(value, today))
            for key, value in obj.items()
            if (m := _REVISED_RE.fullmatch(key))
        )
        days = [_day(obj["Date"], today), *(day for _, day in revised)]
        return days, len(days)
    if obj.get("update_date") is not None:
        # Kaggle records without versions: the last update is the only date there is.
        return [_day(obj["update_date"], today)], None
    raise RecordError("missing field: date")


def _authors_parsed(value: object) -> list[str] | None:
    """``[[last, first, suffix, affiliation...], ...]`` -> "First Last Suffix"; None if odd."""
    if not isinstance(value, list):
        return None
    names = []
    for entry in value:
        if not isinstance(entry, list) or not all(isinstance(p, str) for p in entry[:3]):
            return None
        last, first, suffix = (*entry[:3], "", "")[:3]
        name = " ".join(" ".join((first, last, suffix)).split())
        if name:
            names.append(name)
    return names


def _strip_parentheses(text: str) -> str:
    """Drops parenthesised text, nested included: affiliations like "(1) CREST, (2) ..."."""
    kept, depth = [], 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            kept.append(char)
    return "".join(kept)


def split_authors(value: str) -> list[str]:
    """An ``authors`` string -> names, split on commas and " and ", affiliations dropped."""
    names: list[str] = []
    for part in _AUTHOR_SPLIT_RE.split(_strip_parentheses(value)):
        name = _ET_AL_RE.sub("", " ".join(part.split()))
        if not name:
            continue
        if name in _NAME_SUFFIXES and names:
            names[-1] = f"{names[-1]} {name}"
        else:
            names.append(name)
    return names


def parse_record(obj: Any, *, today: date | None = None) -> IndexRecord:
    """One decoded JSON line (either schema) -> a record; ``RecordError`` says why not.

    ``today`` (UTC) bounds future dates; tests pin it, everyone else leaves it out.
    """
    if not isinstance(obj, dict):
        raise RecordError("not an object")
    today = today or datetime.now(UTC).date()
    arxiv_id, id_version = _split_id(_first(obj, "id", "arXiv"))
    title = _fold(_first(obj, "title", "Title"), "title")
    if title is None:
        raise RecordError("missing field: title")
    abstract = _fold(obj.get("abstract"), "abstract")
    if abstract is None:
        raise RecordError("missing field: abstract")
    days, count = _dates(obj, today)
    authors = _authors_parsed(obj.get("authors_parsed"))
    if not authors:
        raw_authors = _fold(_first(obj, "authors", "Authors"), "authors")
        authors = split_authors(raw_authors) if raw_authors else []
    categories = _fold(_first(obj, "categories", "Categories"), "categories")
    return IndexRecord(
        arxiv_id=arxiv_id,
        version=max(1, count or id_version or 1),
        title=title,
        abstract=abstract,
        authors=authors,
        categories=list(dict.fromkeys(categories.split())) if categories else [],
        published=days[0],
        updated=days[-1],
        doi=_fold(_first(obj, "doi", "DOI"), "doi"),
        journal_ref=_fold(_first(obj, "journal-ref", "Journal-ref"), "journal_ref"),
        comment=_fold(_first(obj, "comments", "Comments"), "comment"),
    )


def parse_line(path: str, line_no: int, raw: bytes | str) -> IndexRecord | BadRecord:
    """One raw line -> a record or a ``BadRecord``; never raises for bad content."""
    if isinstance(raw, bytes):
        if len(raw.rstrip(b"\r\n")) > MAX_LINE_BYTES:
            return BadRecord(path, line_no, f"line over {MAX_LINE_BYTES} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return BadRecord(path, line_no, "invalid UTF-8")
    else:
        text = raw
    if line_no == 1:
        text = text.removeprefix("\ufeff")  # a BOM that some editors write
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested past the stack
        return BadRecord(path, line_no, "broken JSON")
    try:
        return parse_record(obj)
    except RecordError as exc:
        return BadRecord(path, line_no, str(exc))


def iter_lines(path: str | Path, start_line: int = 1) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) for each non-blank line of a file from ``start_line`` (1-based).

    A missing file or a corrupt gzip stream raises ``OSError``/``EOFError``.
    """
    with Path(path).open("rb") as handle:
        yield from iter_stream_lines(handle, start_line)


def iter_stream_lines(stream: BinaryIO, start_line: int = 1) -> Iterator[tuple[int, bytes]]:
    """``iter_lines`` over an open binary stream (a file, or Ray Data's pyarrow stream).

    Gzip is recognised by its magic bytes, not a suffix: downloads often lose or gain a ".gz".
    Lines are read one at a time. A line over ``MAX_LINE_BYTES`` comes back cut to
    ``MAX_LINE_BYTES + 1`` bytes (``parse_line`` rejects it) and the rest of it is skipped.
    """
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[type-var]
    gzipped = buffered.peek(2)[:2] == _GZIP_MAGIC
    handle: BinaryIO = gzip.GzipFile(fileobj=buffered) if gzipped else buffered  # type: ignore[assignment]
    line_no = 0
    while line := handle.readline(MAX_LINE_BYTES + 1):
        line_no += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := handle.readline(_DRAIN_BYTES)) and not rest.endswith(b"\n"):
                pass
        if line_no < start_line or not line.strip():
            continue
        yield line_no, line


def read_records(path: str | Path, start_line: int = 1) -> Iterator[IndexRecord | BadRecord]:
    """Every non-blank line of a JSON Lines file (plain or gzip) as a record or a ``BadRecord``."""
    name = str(path)
    for line_no, raw in iter_lines(path, start_line):
        yield parse_line(name, line_no, raw)
