"""A paper as a CSL-JSON item: authors as family/given with particles and suffixes, institutional
authors literal, the DOI, the arXiv id as the number."""

from __future__ import annotations

import re
from typing import Any

from arm_client.models import Paper as ApiPaper
from models.citations.text import plain_text

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


def arxiv_doi(arxiv_id: str) -> str:
    """arXiv's own DOI for a version-less id."""
    return f"10.48550/arXiv.{arxiv_id}"


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
        for key in ("genre", "publisher"):  # ``number`` stays: the arXiv id, for managers
            del item[key]
    if not item["author"]:
        del item["author"]
    return item
