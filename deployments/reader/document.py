"""A parsed paper: its text as blocks (paragraphs and captions) in reading order, each with the
section it sits in and an anchor that opens the paper at it, plus the outline and references.

The stored text of a paper is its blocks' texts joined by a blank line (``BLOCK_SEPARATOR``);
every block knows its character offsets into that text, so a passage, a ``/read`` window and
an evidence quote all point into the same string."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TextSource = Literal["html", "pdf"]
BlockKind = Literal["paragraph", "caption"]
BLOCK_SEPARATOR = "\n\n"

# Why a paper yielded no usable text: each is a per-paper warning, never an error of the answer.
Unreadable = Literal[
    "no_html",  # arXiv's stub page: the paper has no HTML rendering (the PDF is read instead)
    "latexml_error",  # arXiv's HTML is a LaTeXML conversion error page
    "encrypted",  # the PDF needs a password
    "no_text_layer",  # a scanned PDF: pages without text
    "truncated",  # the PDF is cut short or otherwise unparseable
    "too_large",  # the body passed the size cap
    "timeout",  # the body did not arrive within the time cap or the request's deadline
    "not_found",  # arXiv has no such paper or version
    "unavailable",  # arXiv did not answer (5xx, connection refused, rate limited past the wait)
    "empty",  # parsed, but no paragraph of text
    "failed",  # the arm failed reading it (its log names the error)
]


class ParseFailed(ValueError):
    """A paper's body yielded nothing usable; ``reason`` says why (see ``Unreadable``)."""

    def __init__(self, reason: Unreadable, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: Unreadable = reason
        self.detail = detail


@dataclass(frozen=True)
class Heading:
    """One entry of the outline: a section's number ("4.2", "" when unnumbered), title, depth
    (1 = section) and anchor (the HTML element id; for a PDF, "page=N")."""

    number: str
    title: str
    level: int
    anchor: str

    @property
    def label(self) -> str:
        return f"{self.number} {self.title}".strip()


@dataclass(frozen=True)
class Block:
    """A paragraph or a caption: its text (math as TeX), the section path it sits in
    ("4 Experiments > 4.2 Ablations"), its anchor (an HTML id, or None in a PDF) and page
    (1-based, PDF only), and its offsets into the paper's stored text (characters)."""

    text: str
    section: str
    kind: BlockKind = "paragraph"
    anchor: str | None = None
    page: int | None = None
    char_start: int = 0

    @property
    def char_end(self) -> int:
        return self.char_start + len(self.text)


@dataclass
class Document:
    """A parsed paper. ``blocks`` are in reading order with offsets set by ``assemble``."""

    source: TextSource
    blocks: list[Block]
    outline: list[Heading] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    title: str = ""

    @property
    def text(self) -> str:
        """The stored text: the blocks joined by ``BLOCK_SEPARATOR``."""
        return BLOCK_SEPARATOR.join(block.text for block in self.blocks)


def assemble(
    source: TextSource,
    blocks: list[Block],
    outline: list[Heading],
    references: list[str],
    title: str = "",
) -> Document:
    """A Document with each block's ``char_start`` set; empty blocks dropped. Raises
    ParseFailed("empty") when no paragraph is left."""
    placed: list[Block] = []
    offset = 0
    for block in blocks:
        if not block.text:
            continue
        placed.append(
            Block(block.text, block.section, block.kind, block.anchor, block.page, offset)
        )
        offset += len(block.text) + len(BLOCK_SEPARATOR)
    if not any(block.kind == "paragraph" for block in placed):
        raise ParseFailed("empty", f"the {source} has no paragraph of text")
    return Document(source, placed, outline, references, title)
