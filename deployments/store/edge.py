"""``EdgeStore``: a ``PointStore`` over Qdrant Edge, Qdrant's engine inside this process.

One shard per collection, in a folder of its own: the server's segment format, with HNSW, a
sparse inverted index with the IDF modifier, and payload indexes. Writes land in an appendable
segment; ``optimize`` seals it, builds its HNSW and merges small segments. There is no background
optimizer: a bulk writer calls ``optimize`` every ``Schema.segment_points`` points (the index's
ingest does) and once when it is done.

At millions of points (``Schema.quantized``) RAM stays bounded: the float32 vectors live on disk
(memory-mapped, read only to rescore), an int8 scalar-quantized copy stays in RAM for the HNSW
walk (a quarter of the size), the sparse index and the payload are on disk, and the payload
indexes (date, categories) in RAM. What that costs in recall: ``bench.scale``'s
``dense_recall_at_10`` and ``bench.retrieval``.

The shard's write-ahead log holds an exclusive lock on the folder: a second process opening it
gets ``StoreLocked``, as the old embedded mode's folder lock did.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from deployments.store.points import (
    AnyOf,
    Hit,
    IntRange,
    Leg,
    NewPoint,
    Schema,
    SetDense,
    SetPayload,
    StoredPoint,
    StoreLocked,
    StoreUnreadable,
    Update,
    Where,
)

HNSW_M = 16  # graph degree (Qdrant's default): recall vs. RAM and build time
HNSW_EF_CONSTRUCT = 100  # build-time beam (Qdrant's default)
HNSW_EF = 128  # query-time beam: LEG_DEPTH hits need a beam at least as wide
FULL_SCAN_KB = 10_000  # below this much vector data a segment is scanned, not walked
OVERSAMPLING = 2.0  # quantized candidates per wanted hit, rescored with the float vectors
CONFIG_FILE = "edge_config.json"


def is_edge_shard(folder: Path) -> bool:
    """Whether ``folder`` holds an Edge shard (its config file is written at creation)."""
    return (folder / CONFIG_FILE).is_file()


def _config(schema: Schema) -> qe.EdgeConfig:
    quantization = None
    if schema.quantized:
        quantization = qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99)
    dense = qe.EdgeVectorParams(
        size=schema.dimension,
        distance=qe.Distance.Cosine,
        on_disk=schema.quantized,
        quantization_config=quantization,
    )
    sparse = {}
    if schema.sparse is not None:
        params = qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf, on_disk=schema.quantized)
        sparse[schema.sparse] = params
    optimizers = None
    if schema.segment_points is not None:
        # max_segment_size counts the float vectors' KB. A quarter over one sealed segment:
        # small leftovers still merge into one, two sealed segments never do (a merge would
        # build their HNSW again over twice the points).
        sealed_kb = schema.segment_points * schema.dimension * 4 // 1024
        optimizers = qe.EdgeOptimizersConfig(max_segment_size=sealed_kb * 5 // 4)
    return qe.EdgeConfig(
        vectors={schema.dense: dense},
        sparse_vectors=sparse,
        hnsw_config=qe.HnswIndexConfig(
            m=HNSW_M, ef_construct=HNSW_EF_CONSTRUCT, full_scan_threshold=FULL_SCAN_KB
        ),
        payload_memory=qe.Memory.Cold,
        optimizers=optimizers,
    )


def _filter(where: Where | None) -> qe.Filter | None:
    if where is None:
        return None
    must: list[Any] = []
    for cond in where.must:
        if isinstance(cond, IntRange):
            must.append(
                qe.FieldCondition(cond.key, range=qe.RangeFloat(gte=cond.gte, lte=cond.lte))
            )
        elif isinstance(cond, AnyOf):
            must.append(qe.FieldCondition(cond.key, match=qe.MatchAny(list(cond.values))))
    if where.ids:
        must.append(qe.HasIdCondition({uuid.UUID(i) for i in where.ids}))
    return qe.Filter(must=must) if must else None


def _vector(value: Any) -> list[float]:
    return list(value) if not isinstance(value, qe.SparseVector) else []


class EdgeStore:
    """One Edge shard at ``folder``; see the module docstring. Queries may run from several
    threads at once (the engine releases the GIL and locks its own segments); ``close`` must
    come after the last call."""

    engine = "edge"

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).resolve()
        self.location = str(self.folder)
        self._shard: qe.EdgeShard | None = None
        self._dense_sizes: dict[str, int] = {}
        self.sparse_names: list[str] = []
        self._closed = False
        if is_edge_shard(self.folder):
            self._open(lambda: qe.EdgeShard.load(self.location))

    def _open(self, make: Any) -> None:
        try:
            shard = make()
            # The binding has no getter for the config; the shard keeps it in this file.
            config = json.loads((self.folder / CONFIG_FILE).read_text())
        except Exception as exc:  # the binding raises plain Exception with the engine's text
            text = str(exc)
            if "WouldBlock" in text or "lock" in text.lower():
                raise StoreLocked(
                    f"the store at {self.location} is open in another process (is the graph "
                    "running? stop it first, or use a Qdrant server through QDRANT_URL)"
                ) from None
            raise StoreUnreadable(
                f"the store at {self.location} cannot be opened ({text.splitlines()[0][:200]}): "
                "it is corrupt, truncated or from another Qdrant Edge version; move it aside and "
                "ingest again, or load a snapshot into a new folder"
            ) from None
        self._shard = shard
        self._dense_sizes = {name: int(v["size"]) for name, v in config["vectors"].items()}
        self.sparse_names = list(config.get("sparse_vectors") or {})

    @property
    def shard(self) -> qe.EdgeShard:
        if self._closed:
            raise RuntimeError(f"the store at {self.location} is closed")
        if self._shard is None:
            raise StoreUnreadable(f"the store at {self.location} has no collection yet")
        return self._shard

    def dimension(self, dense: str) -> int | None:
        return self._dense_sizes.get(dense) if self._shard is not None else None

    def create(self, schema: Schema) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._open(lambda: qe.EdgeShard.create(self.location, _config(schema)))
        for name in schema.integer_fields:
            index = qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Integer)
            self.shard.update(index)
        for name in schema.keyword_fields:
            index = qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Keyword)
            self.shard.update(index)

    def upsert(self, points: Sequence[NewPoint], *, insert_only: bool = False) -> None:
        if not points:
            return
        dense_name = next(iter(self._dense_sizes))
        sparse_names = self.sparse_names
        made = []
        for point in points:
            vectors: dict[str, Any] = {dense_name: [float(x) for x in point.dense]}
            if point.sparse is not None and sparse_names:
                terms = point.sparse
                vectors[sparse_names[0]] = qe.SparseVector(terms.indices, terms.values)
            made.append(qe.Point(uuid.UUID(point.id), vectors, point.payload))
        mode = qe.UpdateMode.InsertOnly if insert_only else None
        self.shard.update(qe.UpdateOperation.upsert_points(made, update_mode=mode))

    def apply(self, updates: Sequence[Update]) -> None:
        for update in updates:
            if isinstance(update, SetPayload):
                flt = _filter(update.where)
                assert flt is not None, "a payload update selects its points"
                op = qe.UpdateOperation.set_payload_by_filter(flt, update.payload, key=update.key)
            elif isinstance(update, SetDense):
                vector: dict[str, Any] = {
                    next(iter(self._dense_sizes)): [float(x) for x in update.vector]
                }
                op = qe.UpdateOperation.update_vectors(
                    [qe.PointVectors(uuid.UUID(update.id), vector)],
                    condition=_filter(update.where),
                )
            self.shard.update(op)

    def retrieve(
        self, ids: Sequence[str], *, fields: Sequence[str] | None = None, vectors: bool = False
    ) -> list[StoredPoint]:
        if not ids or self._shard is None:
            return []
        payload: Any = list(fields) if fields is not None else True
        records = self.shard.retrieve([uuid.UUID(i) for i in ids], payload, vectors)
        return [self._point(r, vectors) for r in records]

    @staticmethod
    def _point(record: Any, vectors: bool) -> StoredPoint:
        named = record.vector if vectors else {}
        if isinstance(named, list):  # the unnamed vector comes back bare
            named = {"": named}
        return StoredPoint(
            id=str(record.id),
            payload=dict(record.payload or {}),
            vectors={k: _vector(v) for k, v in named.items() if not isinstance(v, qe.SparseVector)},
        )

    def query(self, legs: Sequence[Leg]) -> list[list[Hit]]:
        if not legs or self._shard is None:
            return [[] for _ in legs]
        approximate = qe.SearchParams(
            hnsw_ef=HNSW_EF,
            quantization=qe.QuantizationSearchParams(rescore=True, oversampling=OVERSAMPLING),
        )
        exact = qe.SearchParams(exact=True, quantization=qe.QuantizationSearchParams(ignore=True))
        requests = []
        for leg in legs:
            if leg.sparse is not None:
                wanted: Any = qe.SparseVector(leg.sparse.indices, leg.sparse.values)
            else:
                wanted = [float(x) for x in leg.dense or ()]
            requests.append(
                qe.QueryRequest(
                    limit=leg.limit,
                    query=qe.Query.Nearest(wanted, using=leg.using),
                    filter=_filter(leg.where),
                    params=exact if leg.exact else approximate,
                    with_payload=False,
                )
            )
        answers = self.shard.query_batch(qe.QueryBatchRequest(requests))
        return [[Hit(str(p.id), float(p.score)) for p in leg] for leg in answers]

    def scroll(
        self, fields: Sequence[str], page: int, offset: str | None
    ) -> tuple[list[StoredPoint], str | None]:
        if self._shard is None:
            return [], None
        start = uuid.UUID(offset) if offset else None
        request = qe.ScrollRequest(offset=start, limit=page, with_payload=list(fields))
        records, following = self.shard.scroll(request)
        return [self._point(r, False) for r in records], str(following) if following else None

    def count(self) -> int:
        if self._shard is None and not self._closed:
            return 0  # no collection yet
        return int(self.shard.count(qe.CountRequest(exact=True)))

    def largest(self, key: str) -> int | None:
        if self._shard is None:
            return None
        order = qe.OrderBy(key, direction=qe.Direction.Desc)
        records, _ = self.shard.scroll(
            qe.ScrollRequest(limit=1, with_payload=[key], order_by=order)
        )
        value = records[0].payload.get(key) if records and records[0].payload else None
        return int(value) if value is not None else None

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.shard.update(qe.UpdateOperation.delete_points([uuid.UUID(i) for i in ids]))

    def optimize(self) -> None:
        if self._shard is not None:
            self.shard.flush()
            self.shard.optimize()
            self.shard.flush()

    def close(self) -> None:
        if self._shard is not None:
            self._shard.flush()
            self._shard.close()
            self._shard = None
        self._closed = True
