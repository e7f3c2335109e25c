"""APA 7 and BibTeX citations rendered from arXiv metadata alone (never by a model).

arXiv registers a DataCite DOI for every paper: ``10.48550/arXiv.<version-less id>``.
"""

from __future__ import annotations

import re
import unicodedata

# Lower-case name particles that belong to the surname ("Ludwig van Beethoven" -> "van Beethoven").
_PARTICLES = {
    "van",
    "von",
    "de",
    "del",
    "della",
    "der",
    "den",
    "da",
    "di",
    "du",
    "la",
    "le",
    "dos",
    "das",
    "ter",
    "ten",
    "bin",
    "al",
    "el",
    "y",
}
_KEY_SKIP = {
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
}
_SUFFIXES = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"}


def arxiv_doi(arxiv_id: str) -> str:
    """arXiv's own DOI for a version-less id."""
    return f"10.48550/arXiv.{arxiv_id}"


def split_name(name: str) -> tuple[str, list[str]]:
    """(surname, given names) of a display name such as "C.-P. Yuan" or "Adrian Del Maestro"."""
    name = " ".join(name.replace("\\", "").split())
    if "," in name:  # "Surname, Given"
        last, _, given = name.partition(",")
        return last.strip(), given.split()
    tokens = name.split()
    if len(tokens) <= 1:
        return name, []
    suffix = ""
    if tokens[-1].lower().strip(",") in _SUFFIXES and len(tokens) > 2:
        suffix = " " + tokens.pop()
    start = len(tokens) - 1
    while start > 1 and tokens[start - 1].lower() in _PARTICLES:
        start -= 1
    return " ".join(tokens[start:]) + suffix, tokens[:start]


def initials(given: list[str]) -> str:
    """APA initials: ["Chuan-Peng"] -> "C.-P.", ["J.", "-P."] -> "J.-P.", ["Ed"] -> "E."."""
    out = ""
    hyphen = False
    for token in re.findall(r"-|[^\s.\-]+", " ".join(given)):
        if token == "-":
            hyphen = bool(out)
            continue
        out += ("-" if hyphen else " ") + token[0].upper() + "."
        hyphen = False
    return out.strip()


def apa_author(name: str) -> str:
    """One author as APA writes it: "Del Maestro, A."."""
    last, given = split_name(name)
    given_initials = initials(given)
    return f"{last}, {given_initials}" if given_initials else last


def apa_author_list(names: list[str]) -> str:
    """APA 7: up to 20 authors in full; beyond, the first 19, an ellipsis, then the last."""
    rendered = [apa_author(n) for n in names]
    if not rendered:
        return ""
    if len(rendered) == 1:
        return rendered[0]
    if len(rendered) > 20:
        return ", ".join(rendered[:19]) + ", . . . " + rendered[-1]
    return ", ".join(rendered[:-1]) + ", & " + rendered[-1]


def apa_citation(authors: list[str], year: int, title: str, arxiv_id: str) -> str:
    """APA 7 reference for an arXiv preprint."""
    who = apa_author_list(authors) or title
    title_part = title.rstrip(".")
    head = f"{who} ({year}). " if who != title else f"{title_part}. ({year}). "
    body = f"{title_part} (arXiv:{arxiv_id}). " if who != title else f"(arXiv:{arxiv_id}). "
    return f"{head}{body}arXiv. https://doi.org/{arxiv_doi(arxiv_id)}"


def _bibtex_escape(text: str) -> str:
    # Braces must balance and these characters are special to LaTeX.
    text = text.replace("\\", "").replace("{", "").replace("}", "")
    return re.sub(r"([&%$#_])", r"\\\1", text)


def bibtex_key(authors: list[str], year: int, title: str, arxiv_id: str) -> str:
    """A readable, stable key: surname + year + first title word, ASCII only."""
    surname = split_name(authors[0])[0] if authors else "arxiv"
    words = [w for w in re.findall(r"[A-Za-z0-9]+", _ascii(title)) if w.lower() not in _KEY_SKIP]
    first = words[0].lower() if words else re.sub(r"\W", "", arxiv_id)
    return re.sub(r"[^A-Za-z0-9]", "", _ascii(surname)).lower() + str(year) + first


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def bibtex_entry(
    authors: list[str],
    year: int,
    title: str,
    arxiv_id: str,
    primary_category: str | None,
    journal_doi: str | None = None,
) -> str:
    """A ``@misc`` entry as arXiv's own "Export BibTeX citation" writes it."""
    fields = [
        ("title", "{" + _bibtex_escape(title) + "}"),
        ("author", " and ".join(_bibtex_escape(a) for a in authors)),
        ("year", str(year)),
        ("eprint", arxiv_id),
        ("archivePrefix", "arXiv"),
    ]
    if primary_category:
        fields.append(("primaryClass", primary_category))
    fields.append(("doi", arxiv_doi(arxiv_id)))
    fields.append(("url", f"https://arxiv.org/abs/{arxiv_id}"))
    if journal_doi:
        fields.append(("note", f"Published version: https://doi.org/{_bibtex_escape(journal_doi)}"))
    key = bibtex_key(authors, year, title, arxiv_id)
    body = ",\n".join(f"  {name}={{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}"
