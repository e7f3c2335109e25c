"""``PaperMemory``: papers, their vectors and summaries, in a Qdrant collection.

Over the store interface (``deployments.store``): a Qdrant Edge shard in
``QDRANT_PATH/<collection>`` by default, a Qdrant server's collection with ``url``. One point
per paper: id = uuid5 of the version-less arXiv id, so a paper found again is updated in place,
never stored twice. Payload: the paper, its summary, the queries that found it
(``query_log``) and when it was stored.
Writes never read first (see ``upsert``), so any number of writers may share a server's
collection.

The embedded shard holds an exclusive lock on its folder: exactly one process may open it, so
the deployment runs one replica in that mode and every read goes through it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from deployments.store.client import ClientStore
from deployments.store.edge import EdgeStore
from deployments.store.legacy import refuse_legacy
from deployments.store.points import (
    IntRange,
    Leg,
    NewPoint,
    PointStore,
    Schema,
    SetDense,
    SetPayload,
    Update,
    Where,
)
from models.contracts import MemoryQuery, NewMemory, StoredPaper
from models.paper import Paper, day_key, point_id, query_key

MAX_QUERIES_KEPT = 50  # per paper, the newest, in what a read returns


def queries_of(payload: dict[str, Any]) -> list[str]:
    """The queries that found a paper, oldest first, at most ``MAX_QUERIES_KEPT`` (the newest);
    points written before ``query_log`` kept a plain ``queries`` list."""
    logged = sorted((payload.get("query_log") or {}).values(), key=lambda e: e.get("at", ""))
    queries = list(payload.get("queries") or [])
    queries += [e["query"] for e in logged if e.get("query") not in queries]
    return queries[-MAX_QUERIES_KEPT:]


def memory_schema(dimension: int) -> Schema:
    """Memory's collection: one unnamed dense vector (cosine), the date and id indexed."""
    return Schema(
        dimension=dimension, integer_fields=("published_day",), keyword_fields=("arxiv_id",)
    )


class PaperMemory:
    """Papers in one collection (cosine distance, the embedder's dimension).

    ``dimension`` None: the stored collection's (an error when there is none yet)."""

    def __init__(
        self,
        dimension: int | None,
        *,
        url: str | None = None,
        path: str = "./data/qdrant",
        api_key: str | None = None,
        collection: str = "papers",
    ) -> None:
        self.dimension = dimension
        self.collection = collection
        self.mode = "server" if url else "embedded"
        self.store: PointStore
        if url:
            self.location = url
            self.store = ClientStore(collection, url=url, api_key=api_key)
        else:
            refuse_legacy(Path(path), collection)
            self.store = EdgeStore(Path(path) / collection)
            self.location = self.store.location
        self._ensure_collection()

    def _ensure_collection(self) -> None:
        size = self.store.dimension("")
        if size is not None:
            if self.dimension is None:
                self.dimension = size
            elif size != self.dimension:
                raise ValueError(
                    f"collection {self.collection!r} holds {size}-d vectors but the embedder "
                    f"makes {self.dimension}-d ones; use another QDRANT_PATH or collection"
                )
            return
        if self.dimension is None:
            raise ValueError(
                f"memory has no collection {self.collection!r} yet and its vector size is "
                "unknown: set EMBEDDING_DIMENSION to the embedding model's output size"
            )
        self.store.create(memory_schema(self.dimension))

    def lookup(self, arxiv_ids: list[str]) -> dict[str, StoredPaper]:
        """Stored papers among ``arxiv_ids`` (version-less), with vectors and summaries."""
        points = self.store.retrieve([point_id(i) for i in arxiv_ids], vectors=True)
        found = {}
        for point in points:
            stored = self._from_point(point.payload, point.vectors.get(""))
            found[stored.paper.arxiv_id] = stored
        return found

    def upsert(self, items: list[NewMemory], query: str | None = None) -> int:
        """Write papers (updated in place when stored); ``query`` joins each one's history.

        Idempotent, with no read before the write, so concurrent writers (MemoryWriter
        replicas on a server) never drop each other's queries or summaries, and a replayed
        write (the Ingress's outbox) adds nothing twice:

        1. an insert-only upsert creates the points of papers not stored yet (paper, vector,
           ``stored_at``) and leaves stored ones alone;
        2. a payload merge refreshes each paper's metadata, ``updated_at`` and vector and, when
           one was made this time, its summary (a stored summary is never erased), only where
           the stored version is not newer: a late write never goes back a version (between
           two writes of one version, the later one's summary wins);
        3. the query joins ``query_log`` under its own key (a hash of its text): adding a key
           never overwrites another writer's, and the same query twice is one entry.
        """
        if not items:
            return 0
        now = datetime.now(UTC).isoformat()
        ids = [point_id(item.paper.arxiv_id) for item in items]
        fresh = []
        updates: list[Update] = []
        for item, pid in zip(items, ids, strict=True):
            vector = np.asarray(item.vector, dtype=np.float32).tolist()
            fields: dict[str, Any] = {
                "arxiv_id": item.paper.arxiv_id,
                "paper": item.paper.model_dump(
                    mode="json", exclude={"summary", "relevance_score", "citation", "bibtex"}
                ),
                "published_day": day_key(item.paper.published_date),
                "updated_at": now,
            }
            if item.summary is not None:
                fields["summary"] = item.summary
            payload = {**fields, "summary": item.summary, "stored_at": now, "query_log": {}}
            fresh.append(NewPoint(id=pid, dense=vector, payload=payload))
            # Only over a stored version no newer than this one: a late write (a replayed
            # outbox entry) never takes a paper back to an older version or its vector.
            not_newer = Where(must=(IntRange("paper.version", lte=item.paper.version),), ids=(pid,))
            updates.append(SetPayload(not_newer, fields))
            updates.append(SetDense(pid, vector, not_newer))
        if query:
            entry = {query_key(query): {"query": query, "at": now}}
            updates.append(SetPayload(Where(ids=tuple(ids)), entry, key="query_log"))
        self.store.upsert(fresh, insert_only=True)
        self.store.apply(updates)
        return len(items)

    def search(self, query: MemoryQuery) -> list[StoredPaper]:
        """Stored papers most similar to the query's vector, optionally by published date
        (inclusive)."""
        start_date, end_date = query.start_date, query.end_date
        where = None
        if start_date or end_date:
            days = IntRange(
                "published_day",
                gte=day_key(start_date) if start_date else None,
                lte=day_key(end_date) if end_date else None,
            )
            where = Where(must=(days,))
        vector = np.asarray(query.vector, dtype=np.float32).tolist()
        (hits,) = self.store.query([Leg("", query.limit, dense=vector, where=where)])
        points = {p.id: p for p in self.store.retrieve([h.id for h in hits], vectors=True)}
        out = []
        for hit in hits:
            point = points.get(hit.id)
            if point is None:
                continue  # forgotten between the two calls
            stored = self._from_point(point.payload, point.vectors.get(""))
            stored.score = hit.score
            out.append(stored)
        return out

    def delete(self, arxiv_ids: list[str]) -> int:
        """Forget these papers (version-less ids): how many were stored."""
        stored = self.store.retrieve([point_id(i) for i in arxiv_ids], fields=[])
        self.store.delete([point.id for point in stored])
        return len(stored)

    def count(self) -> int:
        return self.store.count()

    def check(self) -> None:
        """Raise unless the store is open and answers (a cheap read of the collection)."""
        self.store.count()

    def close(self) -> None:
        """Release the store (embedded mode: its folder lock)."""
        self.store.close()

    def _from_point(self, payload: dict[str, Any], vector: Any) -> StoredPaper:
        paper = Paper.model_validate({**payload["paper"], "summary": payload.get("summary")})
        return StoredPaper(
            paper=paper,
            vector=np.asarray(vector, dtype=np.float32),
            summary=payload.get("summary"),
            queries=queries_of(payload),
            query_keys=frozenset(payload.get("query_log") or ())
            | {query_key(q) for q in payload.get("queries") or []},
            stored_at=str(payload.get("stored_at", "")),
        )
