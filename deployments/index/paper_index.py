"""``PaperIndex``: the local arXiv index, searched by meaning and by words at once.

One point per paper (id: ``models.paper.point_id``, so a newer version replaces an older one in
place) with two named vectors: ``dense`` (the Embedder's unit vectors, cosine) and ``lexical``
(``LexicalEncoder``'s BM25 terms, a sparse vector with Qdrant's IDF modifier). Payload: the
paper's metadata, ``published_day`` (YYYYMMDD) and ``categories`` with payload indexes for the
date and category filters, and the extractive summary when the ingest made one.

Search runs both legs in one batch, each to ``LEG_DEPTH`` hits under the same filter, and mixes
them (``fusion``): ``dense_weight`` x dense + (1 - ``dense_weight``) x lexical, each leg's
scores min-max scaled over its own hits.

Two engines (``deployments.store``): on one machine a Qdrant Edge shard under ``INDEX_PATH``,
in generations (``store.generations``): an ingest writes a new shard beside the one served and
publishes it when complete, and a reader switches to it at its next ``refresh``, so ingesting
needs no restart. With ``QDRANT_URL`` a Qdrant server's collection, updated in place.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from deployments.index.fusion import DENSE_WEIGHT, LEG_DEPTH, mix, rrf
from deployments.index.lexical import LexicalEncoder
from deployments.index.records import IndexRecord
from deployments.index.schema import (
    DENSE,
    LEXICAL,
    SEGMENT_RECORDS,
    index_schema,
    search_filter,
)
from deployments.index.shards import IndexShards
from deployments.store.client import ClientStore
from deployments.store.legacy import refuse_legacy
from deployments.store.points import Leg, NewPoint, PointStore, StoreLocked
from models.contracts import SearchRequest
from models.paper import Paper, day_key, from_day_key, point_id
from models.settings import IndexSettings, read_secret

_PAPER_FIELDS_NOT_STORED = {"summary", "relevance_score", "citation", "bibtex"}


# The embedded index is held by another process: an ingest already writing, or, for an index
# opened to write in place, the graph serving it.
IndexLocked = StoreLocked


@dataclass
class IndexHit:
    """One paper found in the index: metadata, unit vector, stored summary, mixed score."""

    paper: Paper
    vector: np.ndarray
    summary: str | None
    score: float


@dataclass(frozen=True)
class IndexStats:
    """What the index holds: how many papers, the newest first-version date, and which shard
    generation answered (an embedded index's folder name; "" for a server)."""

    records: int
    newest: date | None
    generation: str = ""


class PaperIndex:
    """The arXiv index over one collection; see the module docstring.

    ``dimension``: the embedding size for a writer (the collection is created with it when
    missing); None for a reader, which learns it from the stored collection. ``ingest``: write
    a new shard generation (embedded), published by ``finish``."""

    def __init__(
        self,
        dimension: int | None,
        *,
        url: str | None = None,
        path: str = "./data/index",
        api_key: str | None = None,
        collection: str = "arxiv_index",
        dense_weight: float = DENSE_WEIGHT,
        ingest: bool = False,
    ) -> None:
        self.dimension = dimension
        self.collection = collection
        self.dense_weight = dense_weight
        self.mode = "server" if url else "embedded"
        self.lexical = LexicalEncoder()
        self.shards: IndexShards | None = None
        self.store: PointStore | None = None
        self._unsealed = 0  # points written since the last seal (see ``upsert``)
        if url:
            self.location = url
            self.store = ClientStore(collection, url=url, api_key=api_key)
        else:
            refuse_legacy(Path(path), collection)
            folder = Path(path).resolve() / collection
            self.location = str(folder)
            self.shards = IndexShards(folder, ingest=ingest, create=dimension is not None)
            self.store = self.shards.store
        self._check_schema()

    @classmethod
    def from_settings(
        cls, settings: IndexSettings, dimension: int | None = None, *, ingest: bool = False
    ) -> PaperIndex:
        """The index the settings name (``QDRANT_API_KEY`` read from this process's
        environment): a reader with ``dimension`` None (the fetcher), the writer with it."""
        key = read_secret("qdrant_api_key")
        return cls(
            dimension,
            url=settings.qdrant_url,
            path=settings.path,
            api_key=key.get_secret_value() if key else None,
            collection=settings.collection,
            ingest=ingest,
        )

    @property
    def generation(self) -> str:
        """The shard generation open (embedded), "" for a server or before any ingest."""
        return self.shards.generation if self.shards is not None else ""

    def _check_schema(self) -> None:
        """Learn the stored dimension; create the collection when a writer names one. A
        reader (``dimension`` None) creates nothing: until an ingest, the index is empty."""
        if self.store is None:
            return
        held = self.store.dimension(DENSE)
        if held is None:
            if self.dimension is not None:
                self.store.create(index_schema(self.dimension))
            return
        if self.dimension is not None and held != self.dimension:
            raise ValueError(
                f"the index at {self.location} holds {held}-d vectors, the embedding model "
                f"makes {self.dimension}-d ones: ingest into another INDEX_PATH or collection, "
                "or with the model it was made with"
            )
        self.dimension = held

    def switch_due(self) -> bool:
        """Whether an ingest has published a newer shard than the one open (cheap: the folder
        is looked at most once a second)."""
        return self.shards is not None and self.shards.switch_due()

    def refresh(self) -> bool:
        """Switch to the newest published shard; whether it switched. Call it on the thread
        that searches: the new shard opens before the old one closes."""
        if self.shards is None or not self.shards.switch():
            return False
        self.store = self.shards.store
        self._check_schema()
        return True

    def finish(self) -> None:
        """After an ingest's last write: build the HNSW and payload indexes and, for an
        embedded index, publish the new shard to the readers."""
        if self.store is not None:
            self.store.optimize()
        if self.shards is not None:
            self.shards.publish()
            self.store = self.shards.store

    def close(self) -> None:
        """Release the shard (embedded) or the connections (server)."""
        if self.shards is not None:
            self.shards.close()
        elif self.store is not None:
            self.store.close()
        self.store = None

    # -- writing ------------------------------------------------------------------------------

    def _writer(self) -> PointStore:
        if self.store is None:
            raise RuntimeError(f"the index at {self.location} was opened to read, not to write")
        return self.store

    def versions(self, arxiv_ids: Sequence[str]) -> dict[str, int]:
        """The stored version of each of ``arxiv_ids`` that the index holds."""
        if not arxiv_ids or self.store is None:
            return {}
        points = self.store.retrieve(
            [point_id(i) for i in arxiv_ids], fields=["arxiv_id", "version"]
        )
        return {str(p.payload["arxiv_id"]): int(p.payload["version"]) for p in points if p.payload}

    def iter_versions(self, page: int = 10_000) -> Iterator[tuple[str, int]]:
        """(arXiv id, version) of every paper held, a page of points at a time."""
        if self.store is None:
            return
        offset: str | None = None
        while True:
            points, offset = self.store.scroll(["arxiv_id", "version"], page, offset)
            for p in points:
                if p.payload:
                    yield str(p.payload["arxiv_id"]), int(p.payload["version"])
            if offset is None:
                return

    def upsert(
        self,
        records: Sequence[IndexRecord],
        vectors: np.ndarray,
        summaries: Sequence[str | None] | None = None,
    ) -> int:
        """Write records with their unit vectors (rows aligned); an older version than the
        stored one (or than another record of the same paper in this call) is skipped, so
        re-reading an old snapshot never undoes a newer one. Returns how many points were
        written."""
        store = self._writer()
        stored = self.versions([r.arxiv_id for r in records])
        # Two versions of one paper can meet in one batch in either order (Ray Data reads
        # files in parallel): only the latest of each is written.
        latest: dict[str, int] = {}
        for i, record in enumerate(records):
            best = latest.get(record.arxiv_id)
            if best is None or records[best].version < record.version:
                latest[record.arxiv_id] = i
        points = []
        for i, record in enumerate(records):
            if latest[record.arxiv_id] != i or stored.get(record.arxiv_id, 0) > record.version:
                continue
            points.append(
                NewPoint(
                    id=point_id(record.arxiv_id),
                    dense=np.asarray(vectors[i], dtype=np.float32).tolist(),
                    sparse=self.lexical.document(record.embedding_text),
                    payload=self._payload(record, summaries[i] if summaries else None),
                )
            )
        store.upsert(points)
        self._unsealed += len(points)
        if self._unsealed >= SEGMENT_RECORDS:
            # Seal and index what this ingest has written (schema.SEGMENT_RECORDS says why);
            # a server indexes as points arrive and makes this a no-op.
            store.optimize()
            self._unsealed = 0
        return len(points)

    @staticmethod
    def _payload(record: IndexRecord, summary: str | None) -> dict[str, Any]:
        return {
            "arxiv_id": record.arxiv_id,
            "version": record.version,
            "published_day": day_key(record.published),
            "categories": list(record.categories),
            "paper": record.to_paper().model_dump(mode="json", exclude=_PAPER_FIELDS_NOT_STORED),
            "summary": summary,
        }

    # -- reading ------------------------------------------------------------------------------

    def stats(self) -> IndexStats:
        """Record count, the newest first-version date (None when empty) and the generation."""
        if self.store is None or self.dimension is None:
            return IndexStats(0, None, self.generation)
        count = self.store.count()
        day = self.store.largest("published_day") if count else None
        return IndexStats(count, from_day_key(day) if day else None, self.generation)

    def rank(
        self,
        query_vector: np.ndarray,
        query_text: str,
        limit: int,
        *,
        start_date: date | None = None,
        end_date: date | None = None,
        categories: Sequence[str] | None = None,
        mode: str = "fused",
    ) -> list[tuple[str, float]]:
        """Point ids and scores of the best ``limit`` papers, best first. ``mode``: ``fused``
        (the default mix); for measuring the alternatives: ``dense`` or ``lexical`` alone, and
        ``rrf`` (reciprocal-rank fusion of the same two legs, k=60: the plain recipe)."""
        if self.store is None or self.dimension is None:
            return []  # nothing ingested yet
        where = search_filter(start_date, end_date, categories)
        depth = max(LEG_DEPTH, limit)
        dense = Leg(DENSE, depth, dense=np.asarray(query_vector, dtype=np.float32).tolist())
        terms = self.lexical.query(query_text)
        lexical = Leg(LEXICAL, depth, sparse=terms)
        wanted = {"dense": [dense], "lexical": [lexical]}.get(mode, [dense, lexical])
        wanted = [leg for leg in wanted if leg.using == DENSE or terms.indices]
        if not wanted:
            return []
        legs = self.store.query([Leg(g.using, g.limit, g.dense, g.sparse, where) for g in wanted])
        if len(legs) == 1 or mode not in ("fused", "rrf"):
            return [(h.id, h.score) for h in legs[0][:limit]]
        if mode == "rrf":
            return rrf(legs[0], legs[1], limit)
        return mix(legs[0], legs[1], depth, self.dense_weight, limit)

    def search(self, request: SearchRequest) -> list[IndexHit]:
        """The best ``request.max_results`` papers for a query (its unit vector, which the
        request must carry, and its text), best first, with their vectors and summaries,
        within the request's date range and categories."""
        if request.query_vector is None:
            raise ValueError("an index search needs the query's vector")
        ranked = self.rank(
            request.query_vector,
            request.text,
            request.max_results,
            start_date=request.start_date,
            end_date=request.end_date,
            categories=request.categories,
        )
        if not ranked or self.store is None:
            return []
        points = self.store.retrieve([pid for pid, _ in ranked], vectors=True)
        by_id = {p.id: p for p in points}
        hits = []
        for pid, score in ranked:
            point = by_id.get(pid)
            if point is None or not point.payload:
                continue  # deleted between the two calls
            hits.append(
                IndexHit(
                    paper=Paper.model_validate(point.payload["paper"]),
                    vector=np.asarray(point.vectors.get(DENSE), dtype=np.float32),
                    summary=point.payload.get("summary"),
                    score=score,
                )
            )
        return hits
