"""The four stages as the request pipeline sees them: what it calls, with what types.

The Ingress hands the pipeline Serve handles behind these (``handles``); tests hand it plain
objects. mypy checks both against the same protocols.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

import numpy as np

from models.stage_types import NewMemory, SearchResult, StoredPaper, SummaryOutcome


class SearchStage(Protocol):
    async def search(
        self,
        text: str,
        start_date: date | None,
        end_date: date | None,
        max_results: int,
        categories: list[str] | None,
        query_vector: np.ndarray | None = None,
    ) -> SearchResult: ...

    async def info(self) -> dict[str, Any]:
        """``source`` and ``index`` (records, newest): what /capabilities and /health show."""
        ...


class EmbedStage(Protocol):
    async def embed(self, texts: list[str]) -> np.ndarray: ...

    async def info(self) -> dict[str, Any]:
        """At least ``model``: what provenance names."""
        ...


class SummarizeStage(Protocol):
    async def summarize(self, title: str, abstract: str) -> SummaryOutcome: ...

    async def info(self) -> dict[str, Any]:
        """At least ``backend`` and ``model``: what provenance names."""
        ...


class MemoryStage(Protocol):
    async def lookup(self, arxiv_ids: list[str]) -> dict[str, StoredPaper]: ...

    async def upsert(self, items: list[NewMemory], query: str | None) -> int: ...

    async def search(
        self, vector: np.ndarray, limit: int, start_date: date | None, end_date: date | None
    ) -> list[StoredPaper]: ...
