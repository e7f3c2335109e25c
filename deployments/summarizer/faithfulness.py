"""The faithfulness check every backend's summary goes through: a summary that names a
number or a term the abstract does not contain is returned with a warning, never silently."""

from __future__ import annotations

import re

_NUMBER = re.compile(r"(?<![\w\-.])\d+(?:[.,]\d+)*%?")
_TERM = re.compile(r"\b[A-Za-z]*[A-Z][A-Za-z0-9\-]*[A-Z0-9][A-Za-z0-9\-]*\b")  # BERT, GPT-4, ResNet


def faithfulness_issues(summary: str, abstract: str, title: str = "") -> list[str]:
    """Numbers and named terms (acronyms, CamelCase) in ``summary`` that the source lacks."""
    source = f"{title} {abstract}"
    source_numbers = {n.rstrip("%").replace(",", "") for n in _NUMBER.findall(source)}
    source_lower = source.lower()
    issues = []
    for number in _NUMBER.findall(summary):
        if number.rstrip("%").replace(",", "") not in source_numbers:
            issues.append(f"number {number!r} is not in the abstract")
    for term in set(_TERM.findall(summary)):
        if term.lower() not in source_lower:
            issues.append(f"term {term!r} is not in the abstract")
    return sorted(issues)
