"""The index's collection as the store sees it: vector names, the schema a new collection is
made with, and the payload filter a search's dates and categories become."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from deployments.store.points import AnyOf, IntRange, Schema, Where
from models.paper import day_key

DENSE = "dense"  # the Embedder's unit vectors, cosine
LEXICAL = "lexical"  # BM25 terms, Qdrant's IDF modifier


def index_schema(dimension: int) -> Schema:
    """The index's collection: dense + lexical vectors, the date and category indexes, and
    vectors kept on disk with an int8 copy in RAM (millions of points)."""
    return Schema(
        dimension=dimension,
        dense=DENSE,
        sparse=LEXICAL,
        integer_fields=("published_day",),
        keyword_fields=("categories",),
        quantized=True,
    )


def search_filter(
    start_date: date | None, end_date: date | None, categories: Sequence[str] | None
) -> Where | None:
    """First-version dates within the range (inclusive) and any of the categories; None when
    the search has neither."""
    must: list[IntRange | AnyOf] = []
    if start_date or end_date:
        must.append(
            IntRange(
                "published_day",
                gte=day_key(start_date) if start_date else None,
                lte=day_key(end_date) if end_date else None,
            )
        )
    if categories:
        must.append(AnyOf("categories", tuple(categories)))
    return Where(must=tuple(must)) if must else None
