"""``python -m deployments.store.convert FOLDER [COLLECTION ...]``: convert a folder of
qdrant-client's old embedded mode (the local index under ``INDEX_PATH``, memory under
``QDRANT_PATH``) to Qdrant Edge, beside the old files. Every point is copied with its vectors
and payload, nothing is embedded again, and the old files are left for the operator to remove.
Run it with the graph stopped (the old folder is locked by whoever has it open).

Prints one JSON line per collection: ``{"collection", "points", "store"}``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from deployments.index.lexical import SparseTerms
from deployments.index.schema import DENSE, LEXICAL, index_schema
from deployments.memory.paper_memory import memory_schema
from deployments.store.client import ClientStore
from deployments.store.edge import EdgeStore
from deployments.store.generations import Generations
from deployments.store.legacy import legacy_collection
from deployments.store.points import NewPoint, StoreLocked

PAGE = 1_000  # points read and written at a time


def _sparse(vector: Any) -> SparseTerms | None:
    if vector is None:
        return None
    return SparseTerms(list(vector.indices), list(vector.values))


def convert(folder: Path, collection: str) -> dict[str, Any]:
    """Copy one old collection into Edge, in the layout the arm opens: the index (named dense
    and lexical vectors) as a published shard generation, memory as a shard folder. Written
    aside and put in place only when complete, so a killed conversion can simply be rerun."""
    old = ClientStore(collection, path=str(folder))
    try:
        params = old.client.get_collection(collection).config.params
        is_index = isinstance(params.vectors, dict)
        dense = DENSE if is_index else ""
        dimension = old.dimension(dense)
        assert dimension is not None, f"{collection} has no {dense or 'unnamed'} vector"
        staged = folder / f".{collection}.converting"
        shutil.rmtree(staged, ignore_errors=True)
        new = EdgeStore(staged)
        new.create(index_schema(dimension) if is_index else memory_schema(dimension))
        copied, offset = 0, None
        while True:
            points, offset = old.client.scroll(
                collection, limit=PAGE, offset=offset, with_payload=True, with_vectors=True
            )
            batch = []
            for p in points:
                vectors = p.vector if isinstance(p.vector, dict) else {"": p.vector}
                batch.append(
                    NewPoint(
                        id=str(p.id),
                        dense=list(vectors[dense]),  # type: ignore[arg-type]
                        payload=dict(p.payload or {}),
                        sparse=_sparse(vectors.get(LEXICAL)) if is_index else None,
                    )
                )
            new.upsert(batch)
            copied += len(batch)
            if offset is None:
                break
        new.optimize()
        new.close()
    finally:
        old.close()
    target = folder / collection
    if is_index:
        generations = Generations(target)
        shard = generations.begin()
        staged.rename(shard)
        generations.publish(shard)
    else:
        staged.rename(target)
    return {"collection": collection, "points": copied, "store": str(target.resolve())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deployments.store.convert", description=__doc__
    )
    parser.add_argument("folder", type=Path, help="the old folder (INDEX_PATH or QDRANT_PATH)")
    parser.add_argument(
        "collections", nargs="*", help="collections to convert (default: every one there)"
    )
    args = parser.parse_args(argv)
    folder: Path = args.folder
    names = args.collections or sorted(
        p.name for p in (folder / "collection").glob("*") if p.is_dir()
    )
    names = [n for n in names if legacy_collection(folder, n) is not None]
    if not names:
        print(f"{folder}: no collection in qdrant-client's old embedded format", file=sys.stderr)
        return 2
    for name in names:
        if (folder / name).exists():
            print(f"{folder / name} exists already: {name} was converted", file=sys.stderr)
            continue
        try:
            print(json.dumps(convert(folder, name)))
        except StoreLocked as exc:
            print(f"{exc}: stop whatever holds the old folder first", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
