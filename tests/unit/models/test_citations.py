"""Citations from real arXiv metadata (tests/fixtures/citations_real_arxiv.jsonl, see its
SOURCES note): CSL names, APA and other styles by citeproc, BibTeX that parses and compiles, RIS.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import timeit
from datetime import date
from pathlib import Path

import bibtexparser
import pytest

from deployments.index.records import parse_record
from models.citations import (
    available_styles,
    bibtex_entry,
    csl_name,
    latex_escape,
    render_citation,
)
from models.paper import Paper

FIXTURE = Path(__file__).parents[2] / "fixtures" / "citations_real_arxiv.jsonl"


def _real() -> dict[str, Paper]:
    papers = {}
    for line in FIXTURE.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        record.setdefault("abstract", "(a listing header: no abstract)")
        paper = parse_record(record, today=date(2026, 1, 1)).to_paper().cited()
        papers[paper.arxiv_id] = paper
    return papers


REAL = _real()
_NDP = "non-dropping-particle"


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("The BABAR Collaboration", {"literal": "The BABAR Collaboration"}),
        ("for the Belle Collaboration", {"literal": "the Belle Collaboration"}),
        ("LHCb Collaboration", {"literal": "LHCb Collaboration"}),
        ("Sudha", {"literal": "Sudha"}),
        ("张伟", {"literal": "张伟"}),  # by hand: no non-Latin script in the corpus
        ("Zhang Wei", {"family": "Wei", "given": "Zhang"}),  # display order is all we have
        (
            "Floris van der Tak",
            {"family": "Tak", "given": "Floris", "non-dropping-particle": "van der"},
        ),
        ("J. van der Berg", {"family": "Berg", "given": "J.", "non-dropping-particle": "van der"}),
        (
            "C. de la Fuente Marcos",
            {"family": "Fuente Marcos", "given": "C.", "non-dropping-particle": "de la"},
        ),
        (
            "Georg M. von Hippel",
            {"family": "Hippel", "given": "Georg M.", "non-dropping-particle": "von"},
        ),
        ("Adrian Del Maestro", {"family": "Del Maestro", "given": "Adrian"}),
        ("John Smith Jr.", {"family": "Smith", "given": "John", "suffix": "Jr."}),
        ("Robert W. Heath Jr", {"family": "Heath", "given": "Robert W.", "suffix": "Jr."}),
        ("Eyo Eyo Ita III", {"family": "Ita", "given": "Eyo Eyo", "suffix": "III"}),
        ("J.P.Hague", {"family": "Hague", "given": "J. P."}),
        ("C. -P. Yuan", {"family": "Yuan", "given": "C.-P."}),
        ("C. Bal\\'azs", {"family": "Balázs", "given": "C."}),
        ("Ryo Takahashi", {"family": "Takahashi", "given": "Ryo"}),
    ],
)
def test_csl_names(name: str, want: dict[str, str]) -> None:
    assert csl_name(name) == want


def test_csl_item_of_a_preprint() -> None:
    csl = REAL["0704.0155"].csl
    assert csl is not None
    assert csl["type"] == "article" and csl["genre"] == "Preprint" and csl["publisher"] == "arXiv"
    assert csl["number"] == "0704.0155"
    assert csl["DOI"] == "10.48550/arXiv.0704.0155"
    assert csl["URL"] == "https://arxiv.org/abs/0704.0155"
    assert csl["issued"] == {"date-parts": [[2007, 4, 2]]}


def test_csl_item_of_a_published_paper() -> None:
    csl = REAL["0704.0020"].csl
    assert csl is not None
    assert csl["type"] == "article-journal"
    assert csl["container-title"] == "Phys.Rev.D76:052005,2007"
    assert csl["DOI"] == "10.1103/PhysRevD.76.052005"  # arXiv's field says "doi:10.1103/..."
    assert csl["author"] == [
        {"literal": "The BABAR Collaboration"},
        {"family": "Aubert", "given": "B."},
    ]


def test_apa_of_real_papers() -> None:
    assert REAL["0704.0155"].citation == (
        "van der Tak, F., Black, J., Schoeier, F., Jansen, D., & van Dishoeck, E. (2007). "
        "A computer program for fast non-LTE analysis of interstellar line spectra "
        "(arXiv:0704.0155). arXiv. https://doi.org/10.48550/arXiv.0704.0155"
    )
    assert REAL["0704.0802"].citation.startswith("Lo, C. K., Heath, R. W., Jr., & Vishwanath, S.")
    assert REAL["0704.0367"].citation.startswith("Ita, E. E., III. (2007).")
    assert REAL["0704.0147"].citation.startswith("Sudha, Rao, A. V. G., Devi, A. R. U.,")
    assert REAL["0704.0966"].citation.startswith("Alver, B., & the PHOBOS Collaboration. (2007).")
    assert "Collaboration, " not in REAL["0704.0020"].citation.split("(")[0].replace(
        "Collaboration, &", ""
    )
    assert REAL["0704.0395"].citation == (
        "Liu, X., Xiao, Z.-J., & Wang, H.-S. (2007). A Study of $B_{d}^0 \\to J/\\Psi "
        "\\eta^{(\\prime)}$ Decays in the pQCD Approach (arXiv:0704.0395). arXiv. "
        "https://doi.org/10.48550/arXiv.0704.0395"
    )
    assert REAL["0704.0001"].citation.startswith("Balázs, C., Berger, E. L., Nadolsky, P. M.")


@pytest.mark.parametrize(
    ("style", "want"),
    [
        (
            "ieee",
            "F. van der Tak, J. Black, F. Schoeier, D. Jansen, and E. van Dishoeck, “A computer "
            "program for fast non-LTE analysis of interstellar line spectra”, Apr. 02, 2007, "
            "arXiv: 0704.0155. doi: 10.48550/arXiv.0704.0155.",
        ),
        (
            "nature",
            "van der Tak, F., Black, J., Schoeier, F., Jansen, D. & van Dishoeck, E. A computer "
            "program for fast non-LTE analysis of interstellar line spectra. Preprint at "
            "https://doi.org/10.48550/arXiv.0704.0155 (2007).",
        ),
    ],
)
def test_other_styles(style: str, want: str) -> None:
    assert render_citation(REAL["0704.0155"], style) == want


@pytest.mark.parametrize("style", ["apa", "ieee", "chicago-author-date", "nature", "vancouver"])
def test_required_styles_render(style: str) -> None:
    assert style in available_styles()
    # Chicago demotes the particle ("Tak, F. van der"), as its manual says.
    assert "Tak" in render_citation(REAL["0704.0155"], style).split("(")[0]


def test_unknown_style_is_named() -> None:
    with pytest.raises(ValueError, match="'no-such-style'"):
        render_citation(REAL["0704.0155"], "no-such-style")


def test_another_style_changes_only_the_citation() -> None:
    paper = REAL["0704.0155"]
    ieee = paper.cited("ieee")
    assert ieee.citation.startswith("F. van der Tak") and ieee.bibtex == paper.bibtex
    assert ieee.csl == paper.csl and ieee.ris == paper.ris


def test_bibtex_keeps_math_and_escapes_the_rest() -> None:
    assert latex_escape(r"$B^0_s \to \mu^+\mu^-$ & 50% #1 a_b") == (
        r"$B^0_s \to \mu^+\mu^-$ \& 50\% \#1 a\_b"
    )
    # An unpaired $ and an unbalanced brace are text, escaped; TeX accents become LaTeX again.
    assert "using \\$D\\_S" in REAL["0704.0629"].bibtex
    assert "in\\textbraceright{}$D$" in REAL["0704.0573"].bibtex
    assert "author={Bal\\'azs, C. and" in REAL["0704.0001"].bibtex
    assert (
        "{{A Study of $B_{d}^0 \\to J/\\Psi \\eta^{(\\prime)}$ Decays" in REAL["0704.0395"].bibtex
    )
    assert "author={Lo, Caleb K. and Heath, Jr., Robert W. and" in REAL["0704.0802"].bibtex
    assert "author={{The BABAR Collaboration} and Aubert, B.}" in REAL["0704.0020"].bibtex


def test_bibtex_keys_are_stable() -> None:
    assert bibtex_entry(REAL["0704.0155"]).startswith("@misc{vandertak2007computer,")
    assert REAL["0704.0020"].bibtex.startswith("@misc{babar2007measurement,")
    assert REAL["2006.08304"].bibtex.startswith("@misc{popescu2020")


def test_bibtex_parses_with_bibtexparser() -> None:
    library = bibtexparser.parse_string("\n\n".join(p.bibtex for p in REAL.values()))
    assert not library.failed_blocks
    assert len(library.entries) == len(REAL)
    by_key = {e.key: e for e in library.entries}
    assert by_key["vandertak2007computer"]["eprint"] == "0704.0155"


@pytest.mark.skipif(
    not (shutil.which("pdflatex") and shutil.which("bibtex")),
    reason="no TeX engine on PATH (pdflatex and bibtex; Debian: texlive-latex-base)",
)
def test_bibtex_compiles_with_latex(tmp_path: Path) -> None:
    (tmp_path / "refs.bib").write_text(
        "\n\n".join(p.bibtex for p in REAL.values()), encoding="utf-8"
    )
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage[utf8]{inputenc}\n\\usepackage[T1]{fontenc}\n"
        "\\begin{document}\n\\nocite{*}\n\\bibliographystyle{plain}\n\\bibliography{refs}\n"
        "\\end{document}\n"
    )

    def run(*cmd: str) -> None:
        done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout[-3000:]

    run("pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex")
    run("bibtex", "doc")
    run("pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex")
    assert "error message" not in (tmp_path / "doc.blg").read_text()
    assert (tmp_path / "doc.pdf").stat().st_size > 0


def test_ris() -> None:
    lines = REAL["0704.0802"].ris.split("\r\n")
    assert lines[:4] == [
        "TY  - UNPB",
        "AU  - Lo, Caleb K.",
        "AU  - Heath, Robert W., Jr.",
        "AU  - Vishwanath, Sriram",
    ]
    assert "DA  - 2007/04/05" in lines and "DO  - 10.48550/arXiv.0704.0802" in lines
    assert lines[-2:] == ["ER  - ", ""]
    published = REAL["0704.0020"].ris.split("\r\n")
    assert published[0] == "TY  - JOUR" and "AU  - The BABAR Collaboration" in published
    assert "JO  - Phys.Rev.D76:052005,2007" in published


def test_render_cost_is_cached() -> None:
    """The first render of a paper is citeproc's (slow); again, it is a cache look-up."""
    papers = list(REAL.values())
    again = timeit.timeit(lambda: [render_citation(p) for p in papers], number=5)
    assert again / (5 * len(papers)) < 0.005
