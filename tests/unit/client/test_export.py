"""An answer's papers as one .bib, .ris or CSL-JSON file."""

from __future__ import annotations

import json
import re

import pytest

from arm_client import EXPORT_FORMATS, ExportError, to_bibtex, to_csl_json, to_ris
from tests.unit.client.fakes import PAPERS, paper


def test_bibtex_joins_the_entries_one_blank_line_apart() -> None:
    text = to_bibtex(PAPERS)
    blocks = text.strip().split("\n\n")
    assert blocks == [p.bibtex.strip() for p in PAPERS]
    assert [re.match(r"@misc\{([^,]+),", b).group(1) for b in blocks] == [
        "arxiv2402_00003",
        "arxivhep-ex_0406020",
    ]
    assert "$B^0_s \\to \\mu^+\\mu^-$" in text  # the entry's TeX kept as the arm made it
    assert text.endswith("}\n")


def test_ris_keeps_each_record_and_its_end_tag() -> None:
    text = to_ris(PAPERS)
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("TY  - ")] == ["TY  - PREPRINT"] * 2
    assert [line for line in lines if line.startswith("ER  -")] == ["ER  - "] * 2
    assert lines[-1] == "ER  - "
    # Each record opens after the previous one's end.
    assert lines.index("ER  - ") < lines.index("TY  - PREPRINT", 1)


def test_csl_json_is_one_array_of_the_items() -> None:
    items = json.loads(to_csl_json(PAPERS))
    assert isinstance(items, list)
    assert [i["number"] for i in items] == ["2402.00003", "hep-ex/0406020"]
    assert items[0] == PAPERS[0].csl


def test_no_papers_make_an_empty_file() -> None:
    assert to_bibtex([]) == "" and to_ris([]) == "" and json.loads(to_csl_json([])) == []


def test_a_paper_without_the_entry_is_an_error_not_a_gap() -> None:
    bare = paper("2401.00001", "Bare").model_copy(update={"bibtex": "", "ris": "", "csl": None})
    for render in (to_bibtex, to_ris, to_csl_json):
        with pytest.raises(ExportError, match=r"2401\.00001"):
            render([PAPERS[0], bare])


def test_the_formats_table() -> None:
    assert set(EXPORT_FORMATS) == {"bibtex", "ris", "csl"}
    assert EXPORT_FORMATS["bibtex"].extension == ".bib"
    assert EXPORT_FORMATS["csl"].render(PAPERS) == to_csl_json(PAPERS)
