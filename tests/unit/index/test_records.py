"""Index records from arXiv bulk metadata: both schemas, gzip, bad lines, laziness, the corpus."""

from __future__ import annotations

import gzip
import itertools
import json
import tracemalloc
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from deployments.index import records
from deployments.index.records import (
    BadRecord,
    IndexRecord,
    RecordError,
    iter_lines,
    parse_line,
    parse_record,
    read_records,
    split_authors,
)
from models.paper import point_id
from tests.conftest import shared_path

CORPUS = ("arxiv", "corpus")
ABS_FILE = "arxiv_browse_abs_0704.0001-0704.1001_with_abstracts.jsonl"
KAGGLE_FILE = "kaggle_oai_snapshot_head200_0704.0001-0704.0200.jsonl"
LISTINGS_FILE = "arxiv_browse_astro-ph_listings_1810_2006_2301_headers_no_abstracts.jsonl"


def kaggle(**overrides: Any) -> dict[str, Any]:
    """A Kaggle ``arxiv-metadata-oai-snapshot`` record (0704.0001's, trimmed)."""
    record: dict[str, Any] = {
        "id": "0704.0001",
        "submitter": "Pavel Nadolsky",
        "authors": "C. Bal\\'azs, E. L. Berger, P. M. Nadolsky, C.-P. Yuan",
        "title": "Calculation of prompt diphoton production cross sections at Tevatron and\n"
        "  LHC energies",
        "comments": "37 pages, 15 figures; published version",
        "journal-ref": "Phys.Rev.D76:013009,2007",
        "doi": "10.1103/PhysRevD.76.013009",
        "report-no": "ANL-HEP-PR-07-12",
        "categories": "hep-ph",
        "license": None,
        "abstract": "  A fully differential calculation in perturbative quantum chromodynamics is\n"
        "presented for the production of massive photon pairs at hadron colliders.\n",
        "versions": [
            {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
            {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"},
        ],
        "update_date": "2008-11-26",
        "authors_parsed": [
            ["Balázs", "C.", ""],
            ["Berger", "E. L.", ""],
            ["Nadolsky", "P. M.", ""],
            ["Yuan", "C. -P.", ""],
        ],
    }
    record.update(overrides)
    return record


def abs_header(**overrides: Any) -> dict[str, Any]:
    """A record with arXiv's ``.abs`` header names (0704.0025's, trimmed)."""
    record: dict[str, Any] = {
        "arXiv": "0704.0025",
        "From": "Andrey Mishchenko <ImX8IKaf@KGV.pXn.tVb>",
        "Date": "Mon, 2 Apr 2007 12:02:36 GMT   (1029kb,D)",
        "Date (revised v3)": "Fri, 7 Sep 2007 10:00:00 GMT   (1030kb)",
        "Date (revised v2)": "Tue, 3 Jul 2007 09:00:00 GMT   (1031kb)",
        "Title": "Spectroscopic Properties of Polarons in Strongly Correlated Systems by\n"
        "  Exact Diagrammatic Monte Carlo Method",
        "Authors": "A. S. Mishchenko (1 and 2) and N. Nagaosa (1 and 3) ((1) CREST, Japan\n"
        "  Science and Technology Agency, (2) Russian Research Centre ``Kurchatov\n"
        "  Institute'', (3) The University of Tokyo)",
        "Categories": "cond-mat.str-el cond-mat.stat-mech",
        "Comments": "41 pages, 13 figures",
        "Journal-ref": "",
        "abstract": "  We present recent advances in understanding of the ground and excited\n"
        "states of the electron-phonon coupled systems.\n",
    }
    record.update(overrides)
    return record


def write_lines(path: Path, lines: list[bytes | str | dict[str, Any]]) -> Path:
    """One line per item (objects as JSON), each ended by "\\n"."""
    with path.open("wb") as fh:
        for line in lines:
            text = json.dumps(line) if isinstance(line, dict) else line
            fh.write((text.encode() if isinstance(text, str) else text) + b"\n")
    return path


def only_good(items: list[IndexRecord | BadRecord]) -> list[IndexRecord]:
    bad = [item for item in items if isinstance(item, BadRecord)]
    assert bad == []
    return [item for item in items if isinstance(item, IndexRecord)]


# --- one record -------------------------------------------------------------------------------


def test_kaggle_record_fields() -> None:
    rec = parse_record(
        kaggle(
            authors_parsed=[
                ["Balázs", "C.", ""],
                ["Evans", "Neal J.", "II"],
                ["Bal\\'azs", "C.", "", "Harvard University"],  # LaTeX kept; affiliation dropped
                ["The BABAR Collaboration", "", ""],
            ],
            categories="hep-ph  math.CO hep-ph",
            comments="",
        )
    )
    assert rec == IndexRecord(
        arxiv_id="0704.0001",
        version=2,
        title="Calculation of prompt diphoton production cross sections at Tevatron and LHC "
        "energies",
        abstract="A fully differential calculation in perturbative quantum chromodynamics is "
        "presented for the production of massive photon pairs at hadron colliders.",
        authors=["C. Balázs", "Neal J. Evans II", "C. Bal\\'azs", "The BABAR Collaboration"],
        categories=["hep-ph", "math.CO"],
        published=date(2007, 4, 2),
        updated=date(2007, 7, 24),
        doi="10.1103/PhysRevD.76.013009",
        journal_ref="Phys.Rev.D76:013009,2007",
        comment=None,
    )


def test_kaggle_without_authors_parsed_splits_the_string() -> None:
    rec = parse_record(kaggle(authors_parsed=None))
    assert rec.authors == ["C. Bal\\'azs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]


def test_abs_record_fields() -> None:
    rec = parse_record(abs_header())
    assert rec.arxiv_id == "0704.0025"
    assert rec.version == 3  # Date + two revised dates
    assert rec.published == date(2007, 4, 2)
    assert rec.updated == date(2007, 9, 7)  # the highest revision, whatever the key order
    assert rec.title.startswith("Spectroscopic Properties of Polarons in Strongly Correlated")
    assert "\n" not in rec.title and "  " not in rec.title
    assert rec.authors == ["A. S. Mishchenko", "N. Nagaosa"]
    assert rec.categories == ["cond-mat.str-el", "cond-mat.stat-mech"]
    assert rec.comment == "41 pages, 13 figures"
    assert rec.journal_ref is None and rec.doi is None


def test_to_paper_and_embedding_text() -> None:
    rec = parse_record(kaggle())
    paper = rec.to_paper()
    assert paper.arxiv_id == "0704.0001"
    assert paper.version == 2
    assert paper.url == "https://arxiv.org/abs/0704.0001"
    assert paper.pdf_url == "https://arxiv.org/pdf/0704.0001v2"
    assert paper.published_date == date(2007, 4, 2)
    assert paper.updated_date == date(2007, 7, 24)
    assert paper.primary_category == "hep-ph"
    assert paper.categories == ["hep-ph"]
    assert paper.authors == rec.authors and paper.authors is not rec.authors
    assert paper.doi == rec.doi and paper.journal_ref == rec.journal_ref
    assert paper.comment == rec.comment
    assert paper.title == rec.title and paper.abstract == rec.abstract
    cited = paper.cited()
    assert "Balázs" in cited.citation and "0704.0001" in cited.bibtex
    assert rec.embedding_text == paper.embedding_text
    assert rec.embedding_text.startswith("Calculation of prompt diphoton production cross")


def test_to_paper_without_categories() -> None:
    paper = parse_record(kaggle(categories="")).to_paper()
    assert paper.primary_category is None and paper.categories == []


@pytest.mark.parametrize(
    ("raw_id", "versions", "expected_id", "expected_version"),
    [
        ("1234.5678v3", None, "1234.5678", 3),  # no versions list: the id's suffix counts
        ("1234.5678v3", 2, "1234.5678", 2),  # a versions list wins over the suffix
        ("2301.12345", None, "2301.12345", 1),
        ("hep-th/9901001", None, "hep-th/9901001", 1),
        ("hep-th/9901001v2", None, "hep-th/9901001", 2),
        ("math.GT/0309136", 1, "math.GT/0309136", 1),
        (" cond-mat/0101001 ", None, "cond-mat/0101001", 1),
        ("2006.00011 (*cross-listing*)", 1, "2006.00011", 1),
    ],
)
def test_version_less_ids(
    raw_id: str, versions: int | None, expected_id: str, expected_version: int
) -> None:
    listed = [
        {"version": f"v{n}", "created": f"Mon, {n} Apr 2007 10:00:00 GMT"}
        for n in range(1, (versions or 0) + 1)
    ]
    rec = parse_record(kaggle(id=raw_id, versions=listed))
    assert (rec.arxiv_id, rec.version) == (expected_id, expected_version)


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ([1, 2], "not an object"),
        ("0704.0001", "not an object"),
        (None, "not an object"),
        (kaggle(id=None), "missing field: id"),
        ({k: v for k, v in kaggle().items() if k != "id"}, "missing field: id"),
        (kaggle(id=704.0001), "not a string: id"),
        (kaggle(id="not-an-id"), "odd id: not-an-id"),
        (kaggle(title="  \n "), "missing field: title"),
        (kaggle(abstract=""), "missing field: abstract"),
        ({k: v for k, v in kaggle().items() if k != "abstract"}, "missing field: abstract"),
        (kaggle(abstract=["a"]), "not a string: abstract"),
        (kaggle(title="\ud800 lone surrogate"), "invalid UTF-8: title"),
        (kaggle(versions=[], update_date=None), "missing field: date"),
        (abs_header(Date=None), "odd date: None"),
        (
            {k: v for k, v in abs_header().items() if not k.startswith("Date")},
            "missing field: date",
        ),
        (kaggle(versions=["v1"]), "odd versions"),
        (kaggle(versions=[{"version": "v1", "created": "yesterday"}]), "odd date: yesterday"),
        (
            kaggle(versions=[{"version": "v1", "created": "Mon, 2 Apr 1990 19:18:42 GMT"}]),
            "odd date: Mon, 2 Apr 1990 19:18:42 GMT",
        ),
        (
            kaggle(versions=[{"version": "v1", "created": "Tue, 4 Jan 2011 10:00:00 GMT"}]),
            "odd date: Tue, 4 Jan 2011 10:00:00 GMT",
        ),  # two days after the pinned today
        (kaggle(versions=[], update_date="2008-13-40"), "odd date: 2008-13-40"),
        (
            abs_header(Date="Mon, 2 Apr 2007 99:99:99 GMT   (1kb)"),
            "odd date: Mon, 2 Apr 2007 99:99:99 GMT (1kb)",
        ),
    ],
)
def test_rejections(obj: Any, reason: str) -> None:
    with pytest.raises(RecordError) as excinfo:
        parse_record(obj, today=date(2011, 1, 2))
    assert str(excinfo.value) == reason
    assert isinstance(excinfo.value, ValueError)


def test_dates() -> None:
    today = date(2011, 1, 2)
    # No versions: the update date is both dates.
    rec = parse_record(kaggle(versions=[], update_date="2008-11-13"), today=today)
    assert (rec.published, rec.updated, rec.version) == (date(2008, 11, 13), date(2008, 11, 13), 1)
    # A day ahead of today is clock skew, not an odd date; 23:30 -0500 is the next day in UTC.
    rec = parse_record(
        kaggle(versions=[{"version": "v1", "created": "Sun, 2 Jan 2011 23:30:00 -0500"}]),
        today=today,
    )
    assert rec.published == date(2011, 1, 3)
    # "-0000" (no zone known) is read as UTC, not as the local zone.
    rec = parse_record(kaggle(versions=[{"version": "v1", "created": "2 Apr 2007 23:59:59 -0000"}]))
    assert rec.published == date(2007, 4, 2)
    # Versions out of order are sorted by their number.
    rec = parse_record(
        kaggle(
            versions=[
                {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"},
                {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
            ]
        )
    )
    assert (rec.published, rec.updated) == (date(2007, 4, 2), date(2007, 7, 24))
    # The floor itself (1991-01-01) is allowed.
    rec = parse_record(kaggle(versions=[], update_date="1991-01-01"))
    assert rec.published == date(1991, 1, 1)


@pytest.mark.parametrize(
    ("authors", "expected"),
    [
        (
            "C. Bal\\'azs, E. L. Berger and C.-P. Yuan",
            ["C. Bal\\'azs", "E. L. Berger", "C.-P. Yuan"],
        ),
        ("John Smith, Jr., Ann Lee, and Bo Wu", ["John Smith Jr.", "Ann Lee", "Bo Wu"]),
        ("The BABAR Collaboration, B. Aubert, et al", ["The BABAR Collaboration", "B. Aubert"]),
        ("A. Abulencia et al. (CDF Collaboration)", ["A. Abulencia"]),
        (
            "Floris van der Tak (SRON Groningen), John Black (Onsala), Fredrik\n  Schoeier",
            ["Floris van der Tak", "John Black", "Fredrik Schoeier"],
        ),
        ("Alexander Anderson and Sandra Andrews", ["Alexander Anderson", "Sandra Andrews"]),
        ("", []),
    ],
)
def test_split_authors(authors: str, expected: list[str]) -> None:
    assert split_authors(authors) == expected


def test_point_id_is_uuid5_of_the_version_less_id() -> None:
    namespace = uuid.UUID("6f1c1e36-8a1b-5b8e-9d0a-7f3e2a1c4b5d")
    assert point_id("hep-th/9901001") == str(uuid.uuid5(namespace, "hep-th/9901001"))
    assert point_id(parse_record(kaggle(id="0704.0001v2")).arxiv_id) == point_id("0704.0001")


def test_bad_lines_have_exact_line_numbers(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "mixed.jsonl",
        [
            kaggle(),  # 1
            "",  # 2: blank, skipped
            '{"id": "0704.0002", "title": ',  # 3
            kaggle(abstract=None),  # 4
            kaggle(versions=[{"version": "v1", "created": "the 2nd of April"}]),  # 5
            "[1, 2, 3]",  # 6
            b'{"id": "0704.0003", "title": "caf\xe9"}',  # 7: Latin-1, not UTF-8
            "   \t ",  # 8: whitespace only, skipped
            abs_header(),  # 9
            "\r",  # 10: a CRLF file's blank line
            "42",  # 11
        ],
    )
    name = str(path)
    assert list(read_records(path)) == [
        parse_record(kaggle()),
        BadRecord(name, 3, "broken JSON"),
        BadRecord(name, 4, "missing field: abstract"),
        BadRecord(name, 5, "odd date: the 2nd of April"),
        BadRecord(name, 6, "not an object"),
        BadRecord(name, 7, "invalid UTF-8"),
        parse_record(abs_header()),
        BadRecord(name, 11, "not an object"),
    ]
    assert [n for n, _ in iter_lines(path)] == [1, 3, 4, 5, 6, 7, 9, 11]


def test_start_line_skips_lines_already_done(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "five.jsonl", [kaggle(id=f"0704.000{n}") for n in range(1, 6)])
    ids = [(n, json.loads(raw)["id"]) for n, raw in iter_lines(path, start_line=3)]
    assert ids == [(3, "0704.0003"), (4, "0704.0004"), (5, "0704.0005")]
    got = list(read_records(str(path), start_line=4))
    assert [r.arxiv_id for r in only_good(got)] == ["0704.0004", "0704.0005"]
    assert list(read_records(path, start_line=6)) == []


@pytest.mark.parametrize("name", ["snapshot.jsonl.gz", "snapshot.jsonl", "snapshot"])
def test_gzip_is_detected_by_its_magic_bytes(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    body = (json.dumps(kaggle()) + "\n\n" + json.dumps(abs_header()) + "\n{broken\n").encode()
    with gzip.open(path, "wb") as fh:
        fh.write(body)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    got = list(read_records(path))
    assert got == [
        parse_record(kaggle()),
        parse_record(abs_header()),
        BadRecord(str(path), 4, "broken JSON"),
    ]


def test_plain_file_named_gz_is_read_as_plain(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "mislabelled.jsonl.gz", [kaggle()])
    assert only_good(list(read_records(path))) == [parse_record(kaggle())]


def test_utf8_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    line = json.dumps(kaggle(), ensure_ascii=False).encode()
    path.write_bytes(b"\xef\xbb\xbf" + line + b"\r\n" + line + b"\r\n")
    assert only_good(list(read_records(path))) == [parse_record(kaggle())] * 2


def test_parse_line_takes_bytes_or_text() -> None:
    text = json.dumps(kaggle())
    assert parse_line("x", 7, text) == parse_line("x", 7, text.encode()) == parse_record(kaggle())
    assert parse_line("x", 7, b"\xff\xfe") == BadRecord("x", 7, "invalid UTF-8")
    assert parse_line("x", 7, "[" * 100_000) == BadRecord("x", 7, "broken JSON")


def test_oversized_line_is_one_bad_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "MAX_LINE_BYTES", 2000)
    monkeypatch.setattr(records, "_DRAIN_BYTES", 100)
    big = kaggle(abstract="word " * 2000)
    path = write_lines(tmp_path / "big.jsonl", [kaggle(), big, kaggle(id="0704.0002")])
    got = list(read_records(path))
    assert got[1] == BadRecord(str(path), 2, "line over 2000 bytes")
    assert [r.arxiv_id for r in got if isinstance(r, IndexRecord)] == ["0704.0001", "0704.0002"]
    assert [n for n, _ in iter_lines(path)] == [1, 2, 3]


LARGE_LINES = 50_000


@pytest.fixture(scope="module")
def large_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50,000 short Kaggle records, about 13 MB."""
    path = tmp_path_factory.mktemp("large") / "large.jsonl"
    versions = [{"version": "v1", "created": "Mon, 2 Jan 2023 10:00:00 GMT"}]
    with path.open("w", encoding="utf-8") as fh:
        for n in range(LARGE_LINES):
            record = {"id": f"2301.{n:05d}", "title": f"Paper {n}", "abstract": "Short. " * 20}
            fh.write(json.dumps({**record, "categories": "cs.LG", "versions": versions}) + "\n")
    return path


@pytest.mark.parametrize("gzipped", [False, True])
def test_reading_is_lazy(large_file: Path, tmp_path: Path, gzipped: bool) -> None:
    size = large_file.stat().st_size
    assert size > 10_000_000
    path = large_file
    if gzipped:
        path = tmp_path / "large.jsonl.gz"
        path.write_bytes(gzip.compress(large_file.read_bytes(), compresslevel=1))

    tracemalloc.start()
    try:
        stream = read_records(path)
        first = list(itertools.islice(stream, 3))
        _, peak = tracemalloc.get_traced_memory()
        stream.close()
    finally:
        tracemalloc.stop()
    assert [r.arxiv_id for r in only_good(first)] == ["2301.00000", "2301.00001", "2301.00002"]
    assert peak < size // 50  # a few buffers, nowhere near the file


def test_every_line_of_a_large_file_is_streamed(large_file: Path) -> None:
    numbers = [n for n, _ in iter_lines(large_file)]
    assert len(numbers) == LARGE_LINES and numbers[-1] == LARGE_LINES
    tail = list(read_records(large_file, start_line=LARGE_LINES - 1))
    assert [r.arxiv_id for r in only_good(tail)] == ["2301.49998", "2301.49999"]


# --- the shared corpus ------------------------------------------------------------------------


def test_corpus_abs_file_is_all_good() -> None:
    got = only_good(list(read_records(shared_path(*CORPUS, ABS_FILE))))
    assert len(got) == 1001
    assert got[0].arxiv_id == "0704.0001" and got[-1].arxiv_id == "0704.1001"
    assert len({r.arxiv_id for r in got}) == 1001
    assert all(r.categories and r.authors and r.title and r.abstract for r in got)
    assert all(date(2007, 3, 1) <= r.published <= r.updated for r in got)


def test_corpus_kaggle_head_matches_the_abs_file() -> None:
    kaggle_records = only_good(list(read_records(shared_path(*CORPUS, KAGGLE_FILE))))
    abs_records = only_good(
        list(itertools.islice(read_records(shared_path(*CORPUS, ABS_FILE)), 200))
    )
    assert len(kaggle_records) == len(abs_records) == 200
    for k, a in zip(kaggle_records, abs_records, strict=True):
        assert (k.arxiv_id, k.title, k.categories) == (a.arxiv_id, a.title, a.categories)
        assert k.published == a.published
        assert k.embedding_text == k.to_paper().embedding_text


def test_corpus_listings_have_no_abstracts() -> None:
    path = shared_path(*CORPUS, LISTINGS_FILE)
    got = list(read_records(path))
    assert len(got) == 4663
    assert {r.reason for r in got if isinstance(r, BadRecord)} == {"missing field: abstract"}
    assert all(isinstance(r, BadRecord) for r in got)


def test_a_record_survives_its_json_form() -> None:
    record = parse_record(kaggle())
    assert IndexRecord.from_json(record.to_json()) == record
