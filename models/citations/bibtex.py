"""A paper as a BibTeX ``@misc`` entry, as arXiv's own export writes it, TeX math kept verbatim."""

from __future__ import annotations

import re

from arm_client.models import Paper as ApiPaper
from models.citations.csl import _doi, _family, arxiv_doi, csl_name
from models.citations.text import _MATH, _ascii, latex_escape, plain_text

_KEY_SKIP = frozenset(
    [
        "a",
        "an",
        "the",
        "on",
        "of",
        "in",
        "for",
        "from",
        "to",
        "with",
        "and",
        "at",
        "by",
        "towards",
        "toward",
        "via",
        "is",
        "are",
    ]
)


def _bibtex_name(name: dict[str, str]) -> str:
    """BibTeX's "von Last, Jr, First" (institutions braced whole, so never split)."""
    if "literal" in name:
        return "{" + latex_escape(name["literal"]) + "}"
    family = latex_escape(_family(name))
    if " " in name["family"]:  # "Del Maestro": one surname, not "Del" + "Maestro"
        particle = name.get("non-dropping-particle")
        family = (latex_escape(particle) + " " if particle else "") + "{"
        family += latex_escape(name["family"]) + "}"
    parts = [family]
    if name.get("suffix"):
        parts.append(latex_escape(name["suffix"]))
    if name.get("given"):
        parts.append(latex_escape(name["given"]))
    return ", ".join(parts)


def bibtex_key(paper: ApiPaper) -> str:
    """A readable, stable key: surname + year + first title word, ASCII only."""
    names = [csl_name(a) for a in paper.authors]
    surname = "arxiv"
    if names:
        first = names[0]
        words = _family(first).split() if "literal" not in first else first["literal"].split()
        words = [w for w in words if w.lower() not in _KEY_SKIP] or words
        surname = "".join(words if "literal" not in first else words[:1])
    title = _ascii(plain_text(_MATH.sub(" ", paper.title)))
    words = [w for w in re.findall(r"[A-Za-z0-9]+", title) if w.lower() not in _KEY_SKIP]
    word = words[0].lower() if words else re.sub(r"\W", "", paper.arxiv_id)
    stem = re.sub(r"[^A-Za-z0-9]", "", _ascii(surname)).lower() or "arxiv"
    return f"{stem}{paper.published_date.year}{word}"


def bibtex_entry(paper: ApiPaper) -> str:
    """A ``@misc`` entry as arXiv's own "Export BibTeX citation" writes it; the title in
    double braces so that its capitals stay, TeX math verbatim."""
    fields = [
        ("title", "{" + latex_escape(paper.title) + "}"),
        ("author", " and ".join(_bibtex_name(csl_name(a)) for a in paper.authors)),
        ("year", str(paper.published_date.year)),
        ("eprint", paper.arxiv_id),
        ("archivePrefix", "arXiv"),
    ]
    if paper.primary_category:
        fields.append(("primaryClass", paper.primary_category))
    fields.append(("doi", latex_escape(_doi(paper.doi) or arxiv_doi(paper.arxiv_id))))
    fields.append(("url", f"https://arxiv.org/abs/{paper.arxiv_id}"))
    if paper.journal_ref:
        fields.append(("note", "Published in " + latex_escape(paper.journal_ref)))
    body = ",\n".join(f"  {name}={{{value}}}" for name, value in fields if value)
    return f"@misc{{{bibtex_key(paper)},\n{body}\n}}"
