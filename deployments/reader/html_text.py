"""arXiv's HTML rendering (LaTeXML) -> a Document.

What LaTeXML writes, and what is kept of it:

- ``article.ltx_document`` holds the paper; ``section.ltx_section`` / ``ltx_subsection`` /
  ``ltx_subsubsection`` / ``ltx_appendix`` / ``ltx_paragraph`` nest, each with an ``id``
  ("S4.SS2") and a heading whose ``span.ltx_tag`` is its number.
- ``div.ltx_para`` is a paragraph, with an ``id`` ("S4.SS2.p3") that the HTML URL opens at.
  Only the outermost is a block: list items and theorem bodies nest their own.
- ``math`` carries its TeX in ``alttext``: kept as the TeX, not the MathML's characters.
- ``figcaption`` (figures and tables) becomes a ``caption`` block anchored at its figure;
  sub-figures' captions are left out.
- ``section.ltx_bibliography`` is kept apart as references; ``nav``, the page header/footer,
  arXiv's banners and the table of contents are dropped.

arXiv answers 200 for a paper without HTML too, with a page of its own: a page without a
LaTeXML document is ``no_html``; a LaTeXML page with no paragraph and LaTeXML's error marks is
``latexml_error``.
"""

from __future__ import annotations

import re

import lxml.html
from lxml.etree import ParserError, _Element

from deployments.reader.document import Block, Document, Heading, ParseFailed, assemble

SECTION_CLASSES = {
    "ltx_section": 1,
    "ltx_appendix": 1,
    "ltx_subsection": 2,
    "ltx_subsubsection": 3,
    "ltx_paragraph": 4,
}
DROPPED_TAGS = {"nav", "header", "footer", "script", "style", "button", "noscript"}
DROPPED_CLASSES = {
    "ltx_page_navbar",
    "ltx_page_header",
    "ltx_page_footer",
    "ltx_TOC",
    "ltx_role_footnotemark",
    "ltx_note_mark",
    "ltx_rdf",
    "ltx_authors",
    "ltx_dates",
    "ltx_pagination",
}
ERROR_TEXT = re.compile(r"Fatal error|Conversion to HTML had|LaTeXML\s+error", re.IGNORECASE)
SPACES = re.compile(r"\s+")


def _classes(el: _Element) -> set[str]:
    return set((el.get("class") or "").split())


def _dropped(el: _Element) -> bool:
    return el.tag in DROPPED_TAGS or bool(_classes(el) & DROPPED_CLASSES)


def inline_text(el: _Element, skip_figures: bool = True) -> str:
    """The element's text in reading order, math as its TeX alt text, dropped parts and (by
    default) nested figures left out, white space collapsed."""
    parts: list[str] = []

    def walk(node: _Element) -> None:
        if not isinstance(node.tag, str):  # comments, processing instructions
            parts.append(node.tail or "")
            return
        if _dropped(node) or (skip_figures and node.tag == "figure"):
            parts.append(node.tail or "")
            return
        if node.tag == "math":
            tex = node.get("alttext")
            parts.append(f" {tex} " if tex else node.text_content())
            parts.append(node.tail or "")
            return
        parts.append(node.text or "")
        for child in node:
            walk(child)
        if node.tag in {"p", "div", "li", "br", "tr"}:
            parts.append(" ")
        parts.append(node.tail or "")

    parts.append(el.text or "")
    for child in el:
        walk(child)
    return SPACES.sub(" ", "".join(parts)).strip()


def _heading(section: _Element) -> tuple[str, str]:
    """(number, title) of a section from its ``ltx_title`` heading."""
    for child in section:
        if isinstance(child.tag, str) and "ltx_title" in _classes(child):
            tags = [t for t in child.iter() if "ltx_tag" in _classes(t)]
            number = inline_text(tags[0]).rstrip(".") if tags else ""
            title = inline_text(child)
            if number and title.startswith(number):
                title = title[len(number) :].lstrip(". ")
            return number, title
    return "", ""


def _section_path(el: _Element, labels: dict[_Element, str]) -> str:
    path = []
    for ancestor in el.iterancestors():
        label = labels.get(ancestor)
        if label:
            path.append(label)
    return " > ".join(reversed(path))


def parse_html(body: bytes) -> Document:
    """A LaTeXML page -> Document. Raises ParseFailed naming the reason when the page is
    arXiv's no-HTML stub, a conversion error page, or has no paragraph."""
    try:
        root = lxml.html.fromstring(body)
    except (ParserError, ValueError) as exc:
        raise ParseFailed("no_html", f"not an HTML page ({exc})") from None
    docs = root.xpath('//*[contains(concat(" ", normalize-space(@class), " "), " ltx_document ")]')
    article = next((d for d in docs if d.tag == "article"), docs[0] if docs else None)
    if article is None:
        raise ParseFailed("no_html", "arXiv has no HTML rendering of this paper")

    labels: dict[_Element, str] = {}  # section element -> "4.2 Ablations" (keeps the proxies)
    outline: list[Heading] = []
    for el in article.iter():
        if not isinstance(el.tag, str) or _dropped(el):
            continue
        level = next((SECTION_CLASSES[c] for c in _classes(el) if c in SECTION_CLASSES), 0)
        if level:
            number, title = _heading(el)
            label = f"{number} {title}".strip()
            if label:
                labels[el] = label
                if level <= 3:
                    outline.append(Heading(number, title, level, el.get("id") or ""))

    blocks: list[Block] = []
    references: list[str] = []
    title_els = article.xpath('.//*[contains(@class, "ltx_title_document")]')
    title = inline_text(title_els[0]) if title_els else ""
    for el in article.iter():
        if not isinstance(el.tag, str):
            continue
        classes = _classes(el)
        if any(_dropped(a) for a in el.iterancestors()) or _dropped(el):
            continue
        if "ltx_bibitem" in classes:
            references.append(inline_text(el))
        elif "ltx_para" in classes or ("ltx_p" in classes and _in_abstract(el)):
            if _inside(el, {"ltx_para", "ltx_bibliography"}) or (
                "ltx_p" in classes and _inside(el, {"ltx_para"})
            ):
                continue
            section = "Abstract" if _in_abstract(el) else _section_path(el, labels)
            blocks.append(Block(inline_text(el), section, "paragraph", el.get("id")))
        elif el.tag == "figcaption":
            figures = [a for a in el.iterancestors() if a.tag == "figure"]
            if len(figures) > 1:
                continue  # a sub-figure's "(e) ...": the figure's own caption stands for it
            figure = figures[0] if figures else None
            anchor = figure.get("id") if figure is not None else el.get("id")
            blocks.append(Block(inline_text(el), _section_path(el, labels), "caption", anchor))

    if not any(b.kind == "paragraph" and b.text for b in blocks):
        page_text = article.text_content()
        if ERROR_TEXT.search(page_text) or article.xpath('.//*[contains(@class, "ltx_ERROR")]'):
            raise ParseFailed("latexml_error", "arXiv's HTML is a LaTeXML conversion error page")
    return assemble("html", blocks, outline, references, title)


def _inside(el: _Element, classes: set[str]) -> bool:
    return any(_classes(a) & classes for a in el.iterancestors())


def _in_abstract(el: _Element) -> bool:
    return _inside(el, {"ltx_abstract"})
