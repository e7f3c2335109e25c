"""``ClientStore``: a ``PointStore`` over ``qdrant-client``, for a Qdrant server (``QDRANT_URL``).

Every call goes to the server with the client's timeout. The same class opens a folder written
by qdrant-client's own embedded mode (``path=``), which the project used before Qdrant Edge:
``deployments.store.convert`` reads such a folder through it, and ``bench.scale`` measures it as
the baseline. That mode is a pure-Python engine meant for tests (brute force, every point in
RAM); nothing serves from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qdrant_client import QdrantClient
from qdrant_client import models as qm

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
    Update,
    Where,
)

SERVER_TIMEOUT_S = 60  # one call, ingest batches included


def _filter(where: Where | None) -> qm.Filter | None:
    if where is None:
        return None
    must: list[qm.Condition] = []
    for cond in where.must:
        if isinstance(cond, IntRange):
            must.append(qm.FieldCondition(key=cond.key, range=qm.Range(gte=cond.gte, lte=cond.lte)))
        elif isinstance(cond, AnyOf):
            must.append(qm.FieldCondition(key=cond.key, match=qm.MatchAny(any=list(cond.values))))
    if where.ids:
        must.append(qm.HasIdCondition(has_id=list(where.ids)))
    return qm.Filter(must=must) if must else None


class ClientStore:
    """One collection through qdrant-client: a server at ``url``, or an old embedded folder at
    ``path``; see the module docstring."""

    def __init__(
        self,
        collection: str,
        *,
        url: str | None = None,
        path: str | None = None,
        api_key: str | None = None,
    ) -> None:
        self.collection = collection
        self.engine = "server" if url else "local"
        self.location = url or str(path)
        if url:
            self.client = QdrantClient(url=url, api_key=api_key, timeout=SERVER_TIMEOUT_S)
        else:
            try:
                self.client = QdrantClient(path=path)
            except RuntimeError as exc:  # portalocker: another process holds the folder
                raise StoreLocked(f"the store at {path} is open in another process") from exc
        self._names: tuple[str, str | None] | None = None

    def dimension(self, dense: str) -> int | None:
        if not self.client.collection_exists(self.collection):
            return None
        vectors = self.client.get_collection(self.collection).config.params.vectors
        if isinstance(vectors, qm.VectorParams):
            return vectors.size if dense == "" else None
        params = (vectors or {}).get(dense)
        return params.size if params is not None else None

    def _vector_names(self) -> tuple[str, str | None]:
        """The dense vector's name ("" unnamed) and the sparse one's (None: none)."""
        if self._names is None:
            params = self.client.get_collection(self.collection).config.params
            dense = (
                ""
                if isinstance(params.vectors, qm.VectorParams)
                else next(iter(params.vectors or {}))
            )
            self._names = (dense, next(iter(params.sparse_vectors or {}), None))
        return self._names

    def create(self, schema: Schema) -> None:
        # As on Edge: at millions of points the float vectors on disk, an int8 copy in RAM.
        quantization = None
        if schema.quantized:
            int8 = qm.ScalarQuantizationConfig(type=qm.ScalarType.INT8, quantile=0.99)
            quantization = qm.ScalarQuantization(scalar=int8)
        dense = qm.VectorParams(
            size=schema.dimension,
            distance=qm.Distance.COSINE,
            on_disk=schema.quantized or None,
            quantization_config=quantization,
        )
        sparse = None
        if schema.sparse is not None:
            index = qm.SparseIndexParams(on_disk=schema.quantized or None)
            sparse = {schema.sparse: qm.SparseVectorParams(index=index, modifier=qm.Modifier.IDF)}
        self.client.create_collection(
            self.collection,
            vectors_config=dense if schema.dense == "" else {schema.dense: dense},
            sparse_vectors_config=sparse,
        )
        if self.engine != "server":
            return  # the embedded mode has no payload indexes (and warns)
        for name in schema.integer_fields:
            self.client.create_payload_index(self.collection, name, qm.PayloadSchemaType.INTEGER)
        for name in schema.keyword_fields:
            self.client.create_payload_index(self.collection, name, qm.PayloadSchemaType.KEYWORD)

    def _vector(self, dense: Sequence[float], point: NewPoint | None = None) -> Any:
        dense_name, sparse_name = self._vector_names()
        values = [float(x) for x in dense]
        if dense_name == "" and (point is None or point.sparse is None or sparse_name is None):
            return values
        named: dict[str, Any] = {dense_name: values}
        if point is not None and point.sparse is not None and sparse_name is not None:
            terms = point.sparse
            named[sparse_name] = qm.SparseVector(indices=terms.indices, values=terms.values)
        return named

    def upsert(self, points: Sequence[NewPoint], *, insert_only: bool = False) -> None:
        if not points:
            return
        made = [
            qm.PointStruct(id=p.id, vector=self._vector(p.dense, p), payload=p.payload)
            for p in points
        ]
        mode = qm.UpdateMode.INSERT_ONLY if insert_only else None
        self.client.upsert(self.collection, points=made, update_mode=mode, wait=True)

    def apply(self, updates: Sequence[Update]) -> None:
        operations: list[Any] = []
        for update in updates:
            if isinstance(update, SetPayload):
                payload = qm.SetPayload(
                    payload=update.payload, filter=_filter(update.where), key=update.key
                )
                operations.append(qm.SetPayloadOperation(set_payload=payload))
            elif isinstance(update, SetDense):
                vectors = qm.UpdateVectors(
                    points=[qm.PointVectors(id=update.id, vector=self._vector(update.vector))],
                    update_filter=_filter(update.where),
                )
                operations.append(qm.UpdateVectorsOperation(update_vectors=vectors))
        if operations:
            self.client.batch_update_points(self.collection, operations, wait=True)

    def retrieve(
        self, ids: Sequence[str], *, fields: Sequence[str] | None = None, vectors: bool = False
    ) -> list[StoredPoint]:
        if not ids:
            return []
        payload: Any = list(fields) if fields is not None else True
        points = self.client.retrieve(
            self.collection, ids=list(ids), with_payload=payload, with_vectors=vectors
        )
        return [self._point(p.id, p.payload, p.vector if vectors else None) for p in points]

    def _point(self, pid: Any, payload: Any, vector: Any) -> StoredPoint:
        named: dict[str, list[float]] = {}
        if isinstance(vector, dict):
            named = {k: list(v) for k, v in vector.items() if isinstance(v, list)}
        elif isinstance(vector, list):
            named = {"": [float(x) for x in vector]}
        return StoredPoint(id=str(pid), payload=dict(payload or {}), vectors=named)

    def query(self, legs: Sequence[Leg]) -> list[list[Hit]]:
        if not legs:
            return []
        requests = []
        for leg in legs:
            query: Any
            if leg.sparse is not None:
                query = qm.SparseVector(indices=leg.sparse.indices, values=leg.sparse.values)
            else:
                query = [float(x) for x in leg.dense or ()]
            requests.append(
                qm.QueryRequest(
                    query=query,
                    using=leg.using or None,
                    filter=_filter(leg.where),
                    limit=leg.limit,
                    params=qm.SearchParams(exact=True) if leg.exact else None,
                    with_payload=False,
                )
            )
        answers = self.client.query_batch_points(self.collection, requests=requests)
        return [[Hit(str(p.id), float(p.score)) for p in answer.points] for answer in answers]

    def scroll(
        self, fields: Sequence[str], page: int, offset: str | None
    ) -> tuple[list[StoredPoint], str | None]:
        points, following = self.client.scroll(
            self.collection,
            limit=page,
            offset=offset,
            with_payload=list(fields),
            with_vectors=False,
        )
        found = [self._point(p.id, p.payload, None) for p in points]
        return found, str(following) if following is not None else None

    def count(self) -> int:
        return int(self.client.count(self.collection, exact=True).count)

    def largest(self, key: str) -> int | None:
        order = qm.OrderBy(key=key, direction=qm.Direction.DESC)
        points, _ = self.client.scroll(self.collection, limit=1, with_payload=[key], order_by=order)
        value = points[0].payload.get(key) if points and points[0].payload else None
        return int(value) if value is not None else None

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            selector = qm.PointIdsList(points=list(ids))
            self.client.delete(self.collection, points_selector=selector, wait=True)

    def optimize(self) -> None:
        """A server builds its indexes as points arrive; nothing to wait for here."""

    def close(self) -> None:
        self.client.close()
