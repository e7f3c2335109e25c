"""``PaperIndex``: the local arXiv index in Qdrant, searched by meaning and by words at once.

One point per paper (id: ``models.paper.point_id``, so a newer version replaces an older one in
place), in a collection of its own (``arxiv_index``) with two named vectors: ``dense`` (the
Embedder's unit vectors, cosine) and ``lexical`` (``LexicalEncoder``'s BM25 terms, a sparse
vector with Qdrant's IDF modifier). Payload: the paper's metadata, ``published_day``
(YYYYMMDD) and ``categories`` with payload indexes for the date and category filters, and the
extractive summary when the ingest made one.

Search runs both legs through Qdrant's Query API in one batch, each to ``LEG_DEPTH`` hits under
the same filter, and mixes them (``fusion``): ``dense_weight`` x dense + (1 - ``dense_weight``)
x lexical, each leg's scores min-max scaled over its own hits.

Embedded mode (``path``) takes an exclusive lock on its folder, like memory's: one process may
open it. On one machine the ArxivFetcher owns it while the graph runs, and ``make ingest`` runs
while the graph is stopped; with ``url`` (a Qdrant server) both share it at any time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client import models as qm

from deployments.index.fusion import DENSE_WEIGHT, LEG_DEPTH, mix
from deployments.index.lexical import LexicalEncoder
from deployments.index.records import IndexRecord
from models.contracts import SearchRequest
from models.paper import Paper, day_key, from_day_key, point_id
from models.settings import IndexSettings, read_secret

DENSE = "dense"
LEXICAL = "lexical"
_PAPER_FIELDS_NOT_STORED = {"summary", "relevance_score", "citation", "bibtex"}


class IndexLocked(RuntimeError):
    """The embedded index folder is open in another process (the graph, or another ingest)."""


@dataclass
class IndexHit:
    """One paper found in the index: metadata, unit vector, stored summary, mixed score."""

    paper: Paper
    vector: np.ndarray
    summary: str | None
    score: float


@dataclass(frozen=True)
class IndexStats:
    """What the index holds: how many papers, and the newest first-version date."""

    records: int
    newest: date | None


class PaperIndex:
    """The arXiv index over one Qdrant collection; see the module docstring."""

    def __init__(
        self,
        dimension: int | None,
        *,
        url: str | None = None,
        path: str = "./data/index",
        api_key: str | None = None,
        collection: str = "arxiv_index",
        dense_weight: float = DENSE_WEIGHT,
    ) -> None:
        self.dimension = dimension
        self.collection = collection
        self.dense_weight = dense_weight
        self.mode = "server" if url else "embedded"
        self.location = url or str(Path(path).resolve())
        self.lexical = LexicalEncoder()
        if url:
            self.client = QdrantClient(url=url, api_key=api_key, timeout=60)
        else:
            Path(path).mkdir(parents=True, exist_ok=True)
            try:
                self.client = QdrantClient(path=path)
            except RuntimeError as exc:  # portalocker: another process holds the folder
                raise IndexLocked(
                    f"the index at {self.location} is open in another process (is the graph "
                    "running? stop it first, or use a Qdrant server through QDRANT_URL)"
                ) from exc
        self._ensure_collection()

    @classmethod
    def from_settings(cls, settings: IndexSettings, dimension: int | None = None) -> PaperIndex:
        """The index the settings name (``QDRANT_API_KEY`` read from this process's
        environment): a reader with ``dimension`` None (the fetcher), the writer with it."""
        key = read_secret("qdrant_api_key")
        return cls(
            dimension,
            url=settings.qdrant_url,
            path=settings.path,
            api_key=key.get_secret_value() if key else None,
            collection=settings.collection,
        )

    def _ensure_collection(self) -> None:
        """Check an existing collection (and learn its dimension); create it when a
        ``dimension`` was given (the ingest). A reader (``dimension`` None) creates nothing:
        until an ingest makes the collection, the index holds no records."""
        if self.client.collection_exists(self.collection):
            vectors = self.client.get_collection(self.collection).config.params.vectors
            dense = vectors.get(DENSE) if isinstance(vectors, dict) else None
            if dense is None or (self.dimension is not None and dense.size != self.dimension):
                held = f"{dense.size}-d vectors" if dense is not None else "no dense vectors"
                raise ValueError(
                    f"collection {self.collection!r} at {self.location} holds {held}, the "
                    f"embedding model makes {self.dimension}-d ones: ingest into another "
                    "INDEX_PATH or collection, or with the model it was made with"
                )
            self.dimension = dense.size
            return
        if self.dimension is None:
            return
        self.client.create_collection(
            self.collection,
            vectors_config={
                DENSE: qm.VectorParams(size=self.dimension, distance=qm.Distance.COSINE)
            },
            sparse_vectors_config={LEXICAL: qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
        )
        # Range filters and "newest" on the date, match filters on categories: a server needs
        # them at millions of points; embedded mode scans (and warns that they do nothing).
        if self.mode == "embedded":
            return
        self.client.create_payload_index(
            self.collection, "published_day", qm.PayloadSchemaType.INTEGER
        )
        self.client.create_payload_index(
            self.collection, "categories", qm.PayloadSchemaType.KEYWORD
        )

    def close(self) -> None:
        """Release the folder (embedded) or the connections (server)."""
        self.client.close()

    # -- writing ------------------------------------------------------------------------------

    def versions(self, arxiv_ids: Sequence[str]) -> dict[str, int]:
        """The stored version of each of ``arxiv_ids`` that the index holds."""
        if not arxiv_ids:
            return {}
        points = self.client.retrieve(
            self.collection,
            ids=[point_id(i) for i in arxiv_ids],
            with_payload=["arxiv_id", "version"],
            with_vectors=False,
        )
        return {str(p.payload["arxiv_id"]): int(p.payload["version"]) for p in points if p.payload}

    def iter_versions(self, page: int = 10_000) -> Iterator[tuple[str, int]]:
        """(arXiv id, version) of every paper held, a page of points at a time."""
        offset: Any = None
        while True:
            points, offset = self.client.scroll(
                self.collection,
                limit=page,
                offset=offset,
                with_payload=["arxiv_id", "version"],
                with_vectors=False,
            )
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
            terms = self.lexical.document(record.embedding_text)
            points.append(
                qm.PointStruct(
                    id=point_id(record.arxiv_id),
                    vector={
                        DENSE: np.asarray(vectors[i], dtype=np.float32).tolist(),
                        LEXICAL: qm.SparseVector(indices=terms.indices, values=terms.values),
                    },
                    payload=self._payload(record, summaries[i] if summaries else None),
                )
            )
        if points:
            self.client.upsert(self.collection, points=points, wait=True)
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
        """Record count and the newest first-version date (None when empty)."""
        if self.dimension is None:  # a reader opened before any ingest: look again
            self._ensure_collection()
            if self.dimension is None:
                return IndexStats(0, None)
        count = self.client.count(self.collection, exact=True).count
        if not count:
            return IndexStats(0, None)
        newest, _ = self.client.scroll(
            self.collection,
            limit=1,
            with_payload=["published_day"],
            order_by=qm.OrderBy(key="published_day", direction=qm.Direction.DESC),
        )
        day = newest[0].payload.get("published_day") if newest and newest[0].payload else None
        return IndexStats(count, from_day_key(int(day)) if day else None)

    @staticmethod
    def _filter(
        start_date: date | None, end_date: date | None, categories: Sequence[str] | None
    ) -> qm.Filter | None:
        must: list[qm.Condition] = []
        if start_date or end_date:
            must.append(
                qm.FieldCondition(
                    key="published_day",
                    range=qm.Range(
                        gte=day_key(start_date) if start_date else None,
                        lte=day_key(end_date) if end_date else None,
                    ),
                )
            )
        if categories:
            any_of = qm.MatchAny(any=list(categories))
            must.append(qm.FieldCondition(key="categories", match=any_of))
        return qm.Filter(must=must) if must else None

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
        ``rrf`` (Qdrant's own reciprocal-rank fusion of the two legs, k=60: the plain recipe)."""
        if self.dimension is None:
            return []  # no collection yet: nothing ingested
        flt = self._filter(start_date, end_date, categories)
        depth = max(LEG_DEPTH, limit)
        dense = (np.asarray(query_vector, dtype=np.float32).tolist(), DENSE)
        terms = self.lexical.query(query_text)
        sparse = (qm.SparseVector(indices=terms.indices, values=terms.values), LEXICAL)
        # The same two legs either way: fused and mixed here, or fused by Qdrant (rrf).
        wanted = {"dense": [dense], "lexical": [sparse]}.get(mode, [dense, sparse])
        wanted = [(q, using) for q, using in wanted if using == DENSE or terms.indices]
        if not wanted:
            return []
        if mode == "rrf":
            both = [qm.Prefetch(query=q, using=u, filter=flt, limit=depth) for q, u in wanted]
            rrf = qm.RrfQuery(rrf=qm.Rrf(k=60))
            fused = self.client.query_points(self.collection, prefetch=both, query=rrf, limit=limit)
            return [(str(p.id), p.score) for p in fused.points]
        requests = [qm.QueryRequest(query=q, using=u, filter=flt, limit=depth) for q, u in wanted]
        legs = self.client.query_batch_points(self.collection, requests=requests)
        if mode != "fused" or len(legs) == 1:
            return [(str(p.id), p.score) for p in legs[0].points[:limit]]
        return mix(legs[0].points, legs[1].points, depth, self.dense_weight, limit)

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
        if not ranked:
            return []
        points = self.client.retrieve(
            self.collection,
            ids=[pid for pid, _ in ranked],
            with_payload=True,
            with_vectors=[DENSE],
        )
        by_id = {str(p.id): p for p in points}
        hits = []
        for pid, score in ranked:
            point = by_id.get(pid)
            if point is None or not point.payload:
                continue  # deleted between the two calls
            vector = point.vector.get(DENSE) if isinstance(point.vector, dict) else None
            hits.append(
                IndexHit(
                    paper=Paper.model_validate(point.payload["paper"]),
                    vector=np.asarray(vector, dtype=np.float32),
                    summary=point.payload.get("summary"),
                    score=score,
                )
            )
        return hits
