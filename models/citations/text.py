"""TeX in arXiv's metadata: math segments kept verbatim, the rest turned into plain text (for
CSL) or escaped (for BibTeX)."""

from __future__ import annotations

import re
import unicodedata

from pylatexenc.latex2text import LatexNodes2Text
from pylatexenc.latexencode import unicode_to_latex

# A TeX math segment: $...$ with no unescaped $ inside.
_MATH = re.compile(r"(?<!\\)\$(?:[^$\\]|\\.)+?(?<!\\)\$", re.DOTALL)


_LATEX2TEXT = LatexNodes2Text()


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
