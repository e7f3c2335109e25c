"""A Document -> passages: paragraph-aligned pieces that fit the embedder's window.

all-MiniLM-L6-v2 reads 256 word-pieces and silently drops the rest; scientific English runs
about 1.3 word-pieces a word, more with TeX, so a passage holds at most ``MAX_WORDS`` words.
A paragraph is one passage; a longer one is cut at sentence ends (a single sentence longer
than the window is cut at ``MAX_WORDS``); paragraphs shorter than ``MIN_WORDS`` are joined to
the next ones of the same section and page while the whole fits the window, so a passage
carries enough context to be found and a list of short items is one passage, not ten.
Captions are passages of their own. Each passage keeps its section, anchor, page and
character offsets into the paper's stored text.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass

from deployments.reader.document import BLOCK_SEPARATOR, Block, BlockKind, Document

MAX_WORDS = 160  # ~210 word-pieces: inside MiniLM's 256 with room for TeX
MIN_WORDS = 100  # tuned on QASPER dev (bench.evidence): 25 -> 100 lifted fused Recall@3
WORD_RUN = re.compile(rf"(?:\S+\s*){{1,{MAX_WORDS}}}")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[])")


@dataclass(frozen=True)
class Passage:
    """One passage: ``text`` is ``document.text[char_start:char_end]``."""

    index: int
    text: str
    section: str
    kind: BlockKind
    anchor: str | None
    page: int | None
    char_start: int
    char_end: int
    # (char_start, anchor) of each paragraph the passage holds: a joined passage links to
    # the one that best matches the question (``PassageStore.rank``), not only its first.
    parts: tuple[tuple[int, str | None], ...] = ()


def _pieces(block: Block) -> list[tuple[int, int]]:
    """(start, end) offsets within the block's text of pieces of at most MAX_WORDS words."""
    text = block.text
    if len(text.split()) <= MAX_WORDS:
        return [(0, len(text))]
    bounds = [0] + [m.end() for m in SENTENCE_END.finditer(text)] + [len(text)]
    pieces: list[tuple[int, int]] = []
    start = 0
    words = 0
    for left, right in itertools.pairwise(bounds):
        sentence_words = len(text[left:right].split())
        if words and words + sentence_words > MAX_WORDS:
            pieces.append((start, left))
            start, words = left, 0
        if sentence_words > MAX_WORDS:  # one runaway sentence: cut it by words
            for match in re.finditer(WORD_RUN, text[left:right]):
                pieces.append((left + match.start(), left + match.end()))
            start, words = right, 0
            continue
        words += sentence_words
    if start < len(text):
        pieces.append((start, len(text)))
    return [(s, len(text[:e].rstrip())) for s, e in pieces if text[s:e].strip()]


def passages(document: Document) -> list[Passage]:
    """The document's passages in reading order (see the module docstring)."""
    stored = document.text
    out: list[Passage] = []
    pending: Block | None = None  # a short paragraph waiting to be joined to the next

    starts = [block.char_start for block in document.blocks]

    def emit(block: Block, start: int, end: int) -> None:
        begin, finish = block.char_start + start, block.char_start + end
        first = max(bisect.bisect_right(starts, begin) - 1, 0)
        last = bisect.bisect_left(starts, finish)
        parts = tuple((max(b.char_start, begin), b.anchor) for b in document.blocks[first:last])
        out.append(
            Passage(
                len(out),
                stored[begin:finish],
                block.section,
                block.kind,
                block.anchor,
                block.page,
                begin,
                finish,
                parts,
            )
        )

    for block in document.blocks:
        if pending is not None:
            joinable = (
                block.kind == "paragraph"
                and block.section == pending.section
                and block.page == pending.page
                and len(pending.text.split()) + len(block.text.split()) <= MAX_WORDS
            )
            if joinable:
                # The stored text between them is the separator: the joined passage is a
                # contiguous slice, anchored where it starts.
                text = stored[pending.char_start : block.char_end]
                block = Block(
                    text,
                    block.section,
                    "paragraph",
                    pending.anchor,
                    pending.page,
                    pending.char_start,
                )
            else:
                emit(pending, 0, len(pending.text))
            pending = None
        if block.kind == "paragraph" and len(block.text.split()) < MIN_WORDS:
            pending = block
            continue
        for start, end in _pieces(block):
            emit(block, start, end)
    if pending is not None:
        emit(pending, 0, len(pending.text))
    assert all(p.text == stored[p.char_start : p.char_end] for p in out), BLOCK_SEPARATOR
    return out
