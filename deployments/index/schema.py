"""The index's collection as the store sees it: vector names, the schema a new collection is
made with, and the payload filter a search's dates and categories become."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from deployments.store.points import AnyOf, IntRange, Schema, Where
from models.paper import day_key

DENSE = "dense"  # the Embedder's unit vectors, cosine
LEXICAL = "lexical"  # BM25 terms, Qdrant's IDF modifier
# Records per sealed segment. An embedded shard has no background optimizer: the ingest seals
# and indexes a segment each time it has written this many, so the segment being written (held
# in RAM) stays bounded and the HNSW builds are spread over the ingest instead of one build
# over millions of points at the end (measured in ``bench.scale``; see docs/scale.md).
SEGMENT_RECORDS = 100_000


def index_schema(dimension: int) -> Schema:
    """The index's collection: dense + lexical vectors, the date and category indexes, and
    vectors kept on disk with an int8 copy in RAM, in segments of ``SEGMENT_RECORDS`` (millions
    of points)."""
    return Schema(
        dimension=dimension,
        dense=DENSE,
        sparse=LEXICAL,
        integer_fields=("published_day",),
        keyword_fields=("categories",),
        quantized=True,
        segment_points=SEGMENT_RECORDS,
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
