"""The store interface both stages use, in their own words: points with a dense vector (and, for
the index, a sparse lexical one), filters of integer ranges and keyword matches, batched
nearest-neighbour legs, and conditional writes. Plain dataclasses, no engine types, so the
index and memory code reads the same over Qdrant Edge and over a Qdrant server."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from deployments.index.lexical import SparseTerms


class StoreLocked(RuntimeError):
    """The store's folder is open in another process (the graph, or an ingest)."""


class StoreUnreadable(RuntimeError):
    """The store's folder holds something this engine cannot open: the message names the folder
    and the fix (another engine's format, a corrupt or truncated shard, another version)."""


@dataclass(frozen=True)
class Schema:
    """What a new collection holds: a dense vector (cosine) under ``dense`` ("" is the unnamed
    vector), optionally a sparse one under ``sparse`` (Qdrant's IDF modifier applied), and the
    payload fields to index for filters and ordering."""

    dimension: int
    dense: str = ""
    sparse: str | None = None
    integer_fields: tuple[str, ...] = ()
    keyword_fields: tuple[str, ...] = ()
    quantized: bool = False  # millions of points: vectors on disk, an int8 copy in RAM
    # Points per indexed segment for a store written in bulk (None: the engine's default). The
    # writer seals a segment (``PointStore.optimize``) each time it has written this many, and
    # segments this full are never merged: each HNSW is built once, at a bounded size.
    segment_points: int | None = None


@dataclass(frozen=True)
class IntRange:
    """``key`` between ``gte`` and ``lte`` (inclusive; None: open on that side)."""

    key: str
    gte: int | None = None
    lte: int | None = None


@dataclass(frozen=True)
class AnyOf:
    """``key`` (a keyword or a list of them) matches one of ``values``."""

    key: str
    values: tuple[str, ...]


Condition = IntRange | AnyOf


@dataclass(frozen=True)
class Where:
    """Every condition must hold; ``ids``, when given, also limits the points to those."""

    must: tuple[Condition, ...] = ()
    ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Leg:
    """One nearest-neighbour search: a dense vector or sparse terms against the vector named
    ``using``, to ``limit`` hits, under ``where``. ``exact``: score every point with the full
    vectors (no HNSW, no quantization): for measuring what the approximate search loses."""

    using: str
    limit: int
    dense: Sequence[float] | None = None
    sparse: SparseTerms | None = None
    where: Where | None = None
    exact: bool = False


@dataclass(frozen=True)
class Hit:
    """A point id (UUID text) and its score in one leg (higher is better)."""

    id: str
    score: float


@dataclass
class StoredPoint:
    """A point as read back: id, payload (or the fields asked), vectors by name."""

    id: str
    payload: dict[str, Any]
    vectors: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class NewPoint:
    """A point to write: its dense vector under the schema's name, sparse terms if any."""

    id: str
    dense: Sequence[float]
    payload: dict[str, Any]
    sparse: SparseTerms | None = None


@dataclass(frozen=True)
class SetPayload:
    """Merge ``payload`` into the points ``where`` selects (under ``key`` when given: a map
    field gains entries, the others are kept)."""

    where: Where
    payload: dict[str, Any]
    key: str | None = None


@dataclass(frozen=True)
class SetDense:
    """Replace point ``id``'s dense vector, where ``where`` (with that id) holds."""

    id: str
    vector: Sequence[float]
    where: Where


Update = SetPayload | SetDense


class PointStore(Protocol):
    """One collection of points, in one engine. Every call is synchronous and bounded by the
    engine (a server's client timeout; an embedded shard answers from this process)."""

    location: str
    engine: str  # "edge" or "server"

    def dimension(self, dense: str) -> int | None:
        """The stored dense vector's size; None when the collection does not exist yet."""

    def create(self, schema: Schema) -> None:
        """Create the collection with its payload indexes (it must not exist)."""

    def upsert(self, points: Sequence[NewPoint], *, insert_only: bool = False) -> None:
        """Write points (replacing stored ones, or with ``insert_only`` leaving them)."""

    def apply(self, updates: Sequence[Update]) -> None:
        """Conditional writes, in order."""

    def retrieve(
        self, ids: Sequence[str], *, fields: Sequence[str] | None = None, vectors: bool = False
    ) -> list[StoredPoint]:
        """The stored points among ``ids`` (all payload, or only ``fields``)."""

    def query(self, legs: Sequence[Leg]) -> list[list[Hit]]:
        """Each leg's hits, best first, as one batch."""

    def scroll(
        self, fields: Sequence[str], page: int, offset: str | None
    ) -> tuple[list[StoredPoint], str | None]:
        """A page of points in id order, and the offset of the next (None at the end)."""

    def count(self) -> int:
        """How many points are stored (exact)."""

    def largest(self, key: str) -> int | None:
        """The largest value of an indexed integer field; None when empty."""

    def delete(self, ids: Sequence[str]) -> None:
        """Remove points (absent ids are ignored)."""

    def optimize(self) -> None:
        """Build the search indexes (HNSW, payload) over what was written; after an ingest."""

    def close(self) -> None:
        """Release the folder (embedded) or the connections (server)."""
