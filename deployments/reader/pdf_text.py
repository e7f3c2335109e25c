"""A paper's PDF -> a Document, with pypdfium2 (PDFium's text layer; Apache-2.0/BSD-3).

PDFium gives text runs with their boxes, not paragraphs, so the layout is rebuilt here (no
maintained permissive library does this for papers; PyMuPDF, which does, is AGPL):

- runs on one baseline become a line; a page whose runs fall on either side of its middle,
  with few crossing it, is read as two columns, the left one first;
- headers and footers are lines in the top or bottom band of a page whose text (digits
  aside) repeats on at least half the pages, bare page numbers, and arXiv's side stamp;
- a paragraph ends at a gap wider than the page's line pitch, at an indented line, or after a
  short line that ends a sentence; a word hyphenated across lines is joined;
- a short numbered line ("4.2 Ablations") or a known heading ("Abstract", "References") is a
  section heading; everything after "References" is references, not passages.

The anchor of a PDF block is its page: the answer links ``<pdf url>#page=N``.
"""

from __future__ import annotations

import itertools
import re
import statistics
import threading
from dataclasses import dataclass

import pypdfium2 as pdfium

from deployments.reader.document import (
    Block,
    Document,
    Heading,
    ParseFailed,
    Unreadable,
    assemble,
)

MARGIN_BAND = 0.08  # top and bottom share of a page where headers and footers live
MIN_CHARS_PER_PAGE = 20  # below this on every page, the PDF has no text layer (a scan)
NUMBERED_HEADING = re.compile(
    r"^(\d{1,2}(?:\.\d{1,2})*|[A-Z](?:\.\d{1,2})*)\.?\s+([A-Z][^.!?]{1,80})$"
)
MIN_BLOCK_WORDS = 5  # shorter scraps (author lists, figure labels, symbols) are not prose
NAMED_HEADINGS = {
    "abstract",
    "introduction",
    "related work",
    "conclusion",
    "conclusions",
    "acknowledgments",
    "acknowledgements",
    "references",
    "bibliography",
    "appendix",
}
REFERENCE_HEADINGS = {"references", "bibliography"}
ARXIV_STAMP = re.compile(r"^arXiv:\d{4}\.\d{4,5}(v\d+)?\s*\[")
DIGITS = re.compile(r"\d+")
SOFT_BREAKS = ("\u00ad", "\x02", "\ufffe")
# PDFium is not thread-safe (pypdfium2's docs): one parse at a time per process. The Reader
# parses in worker threads; the layout work after PDFium is done runs outside the lock.
PDFIUM = threading.Lock()


@dataclass
class Line:
    """A line of text on a page, its box in PDF points (origin bottom left)."""

    page: int
    x0: float
    bottom: float
    x1: float
    top: float
    text: str
    margin: float = 0.0  # the left edge of the line's column (its common x0)
    edge: float = 0.0  # the right edge of the line's column (its widest x1)


def _runs(textpage: pdfium.PdfTextPage) -> list[Line]:
    runs = []
    for i in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(i)
        text = textpage.get_text_bounded(left, bottom, right, top).strip()
        if text and top - bottom < 40:  # rotated or vertical runs (arXiv's stamp) are tall
            runs.append(Line(0, left, bottom, right, top, " ".join(text.split())))
    return runs


def _lines(runs: list[Line]) -> list[Line]:
    """Runs on one baseline joined left to right, top to bottom. A run belongs to the line
    whose band holds its vertical centre, so superscripts (citation marks) and font changes
    stay on their line."""
    groups: list[list[Line]] = []
    for run in sorted(runs, key=lambda r: -(r.top + r.bottom)):
        centre = (run.top + run.bottom) / 2
        group = groups[-1] if groups else None
        if group and min(r.bottom for r in group) <= centre <= max(r.top for r in group):
            group.append(run)
        else:
            groups.append([run])
    lines = []
    for group in groups:
        if sum(len(r.text) for r in group) <= 4 and not any(
            c.isalpha() for r in group for c in r.text
        ):
            continue  # a stray mark (footnote number, equation number, symbol) on its own
        group.sort(key=lambda r: r.x0)
        base = max(group, key=lambda r: r.top - r.bottom)  # the body text's run, not a mark
        text = " ".join(r.text for r in group)
        # A soft hyphen inside a line is a break point PDFium saw at a run's end: drop it;
        # at the line's end it joins the word to the next line (``_join``).
        text = "".join(c for c in text[:-1] if c not in SOFT_BREAKS) + text[-1:]
        lines.append(Line(base.page, group[0].x0, base.bottom, group[-1].x1, base.top, text))
    return lines


def _columns(runs: list[Line], width: float) -> list[list[Line]]:
    """The page's runs as regions in reading order: one column, or, when enough runs fall on
    either side of the middle, the full-width part above the columns (title, abstract), the
    left column, the right column, and the rest of the full-width runs (wide figures)."""
    middle = width / 2
    left = [r for r in runs if r.x1 <= middle + 0.02 * width]
    right = [r for r in runs if r.x0 >= middle - 0.02 * width and r.x1 > middle + 0.02 * width]
    if not runs or len(left) < 0.25 * len(runs) or len(right) < 0.25 * len(runs):
        return [_lines(runs)]
    sides = {id(r) for r in left} | {id(r) for r in right}
    spanning = [r for r in runs if id(r) not in sides]
    columns_top = max(r.top for r in left + right)
    above = [r for r in spanning if r.bottom >= columns_top - 1]
    rest = [r for r in spanning if r.bottom < columns_top - 1]
    return [region for region in map(_lines, (above, left, right, rest)) if region]


def _page_lines(pdf: pdfium.PdfDocument) -> list[list[Line]]:
    pages = []
    for number in range(len(pdf)):
        page = pdf[number]
        width, height = page.get_size()
        textpage = page.get_textpage()
        runs = _runs(textpage)
        for run in runs:
            run.page = number + 1
        lines = []
        for column in _columns(runs, width):
            margin = statistics.mode(round(line.x0) for line in column) if column else 0.0
            edge = max((line.x1 for line in column), default=0.0)
            for line in column:
                line.page, line.margin, line.edge = number + 1, margin, edge
            lines.extend(column)
        # Keep the page height for the header/footer bands.
        pages.append([Line(number + 1, 0, 0, width, height, ""), *lines])
        textpage.close()
        page.close()
    return pages


def _drop_margins(pages: list[list[Line]]) -> list[list[Line]]:
    def key(line: Line) -> str:
        return DIGITS.sub("#", line.text.lower())

    def in_band(line: Line, height: float) -> bool:
        return line.top > height * (1 - MARGIN_BAND) or line.bottom < height * MARGIN_BAND

    counts: dict[str, int] = {}
    for page in pages:
        height = page[0].top
        for k in {key(line) for line in page[1:] if in_band(line, height)}:
            counts[k] = counts.get(k, 0) + 1
    repeated = {k for k, n in counts.items() if n >= max(2, len(pages) / 2)}
    kept = []
    for page in pages:
        height = page[0].top
        kept.append(
            [
                line
                for line in page[1:]
                if not ARXIV_STAMP.match(line.text)
                and not (in_band(line, height) and (key(line) in repeated or line.text.isdigit()))
            ]
        )
    return kept


def _heading(line: Line, body_height: float, appendix: bool) -> tuple[str, str] | None:
    """(number, title) when the line is a section heading: a known name, or a short numbered
    line set no smaller than the body text (figure labels are smaller); lettered ("A Proofs")
    only in the appendix, after the references."""
    text = line.text.strip().strip("".join(SOFT_BREAKS))
    if text.lower().rstrip(":") in NAMED_HEADINGS:
        return "", text.rstrip(":")
    match = NUMBERED_HEADING.match(text)
    if (
        match
        and len(text.split()) <= 10
        and line.top - line.bottom >= 0.75 * body_height
        and (match.group(1)[0].isdigit() or appendix)
    ):
        return match.group(1), match.group(2).strip()
    return None


def _join(text: str, line: str) -> str:
    if not text:
        return line
    if text.endswith(SOFT_BREAKS):
        return text.rstrip("".join(SOFT_BREAKS)) + line
    if text.endswith("-") and len(text) > 1 and text[-2].isalpha() and line[:1].islower():
        return text[:-1] + line
    return f"{text} {line}"


def parse_pdf(body: bytes) -> Document:
    """A PDF -> Document. Raises ParseFailed("encrypted" | "truncated" | "no_text_layer" |
    "empty") when nothing usable comes out."""
    with PDFIUM:
        try:
            pdf = pdfium.PdfDocument(body)
        except pdfium.PdfiumError as exc:
            reason: Unreadable = "encrypted" if "password" in str(exc).lower() else "truncated"
            raise ParseFailed(reason, f"PDFium cannot open it ({exc})") from None
        try:
            pages = _page_lines(pdf)
        except pdfium.PdfiumError as exc:  # a damaged page past a readable start
            raise ParseFailed("truncated", f"PDFium cannot read a page ({exc})") from None
        finally:
            pdf.close()
    if not pages:
        raise ParseFailed("truncated", "the PDF has no pages")
    if all(sum(len(line.text) for line in page) < MIN_CHARS_PER_PAGE for page in pages):
        raise ParseFailed("no_text_layer", "no page has a text layer (a scanned PDF?)")
    return _paragraphs(_drop_margins(pages))


def _paragraphs(pages: list[list[Line]]) -> Document:
    blocks: list[Block] = []
    outline: list[Heading] = []
    references: list[str] = []
    section = ""
    in_references = False
    appendix = False  # lettered headings ("A Proofs") count from here
    text, page_of_text = "", 1
    pitches = [
        prev.bottom - line.bottom
        for page in pages
        for prev, line in itertools.pairwise(page)
        if 0 < prev.bottom - line.bottom < 30
    ]
    pitch = statistics.median(pitches) if pitches else 12.0

    heights = [line.top - line.bottom for page in pages for line in page]
    body_height = statistics.median(heights) if heights else 10.0

    def flush() -> None:
        nonlocal text
        if len(text.split()) >= MIN_BLOCK_WORDS:
            if in_references:
                references.append(text)
            else:
                blocks.append(Block(text, section, "paragraph", None, page_of_text))
        text = ""

    prev: Line | None = None
    for page in pages:
        for line in page:
            heading = _heading(line, body_height, in_references or appendix)
            if heading is not None:
                flush()
                number, title = heading
                in_references = title.lower() in REFERENCE_HEADINGS
                appendix = appendix or in_references or title.lower() == "appendix"
                section = f"{number} {title}".strip()
                level = number.count(".") + 1 if number else 1
                outline.append(Heading(number, title, level, f"page={line.page}"))
                prev = None
                continue
            # A paragraph goes on across a column or page break unless the new line is
            # indented or the last one ended short on a full stop.
            new_paragraph = (
                (prev is not None and 1.5 * pitch < prev.bottom - line.bottom)
                or line.x0 - line.margin > 6
                or (
                    prev is not None
                    and prev.x1 < prev.edge - 0.15 * (prev.edge - prev.margin)
                    and prev.text.endswith(".")
                )
            )
            if new_paragraph and not text.endswith((*SOFT_BREAKS, "-")):
                flush()
                page_of_text = line.page
            text = _join(text, line.text)
            prev = line
    flush()
    return assemble("pdf", blocks, outline, references)
