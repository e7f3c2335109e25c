"""Schemas of ``POST /execute``, ``POST /read`` and ``POST /memory/search``: defined once, in
the client distribution (``arm_client.models``), and used by the server from here."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from arm_client.models import (
    MAX_DATE,
    MIN_DATE,
    ArxivCategory,
    ErrorBody,
    ErrorKind,
    Evidence,
    FieldError,
    MemorySearchRequest,
    MemorySearchResponse,
    OutlineEntry,
    PaperRecord,
    Provenance,
    ReadRequest,
    ReadResponse,
    ResearchRequest,
    ResearchResponse,
    StageTiming,
)

__all__ = [
    "MAX_DATE",
    "MIN_DATE",
    "ArxivCategory",
    "ErrorBody",
    "ErrorKind",
    "Evidence",
    "FieldError",
    "MemorySearchRequest",
    "MemorySearchResponse",
    "OutlineEntry",
    "PaperRecord",
    "Provenance",
    "ReadRequest",
    "ReadResponse",
    "ResearchRequest",
    "ResearchResponse",
    "StageTiming",
    "field_bounds",
]


def field_bounds(model: type[BaseModel], name: str) -> tuple[Any, Any]:
    """The (lower, upper) bounds pydantic enforces on one field of ``model``: ``ge``/``le``
    for numbers, ``min_length``/``max_length`` for text; None where there is none."""
    lower = upper = None
    for rule in model.model_fields[name].metadata:
        lower = next(
            (getattr(rule, a) for a in ("ge", "gt", "min_length") if hasattr(rule, a)), lower
        )
        upper = next(
            (getattr(rule, a) for a in ("le", "lt", "max_length") if hasattr(rule, a)), upper
        )
    return lower, upper
