"""``python -m deployments.store.snapshot save|load FILE``: the embedded index as a Qdrant shard
snapshot, both ways (``make index-snapshot``, ``make ingest SNAPSHOT=FILE``).

A shard snapshot is a tar of the shard's ``segments/`` and ``wal/``: the layout Qdrant's shard
snapshot endpoints write and read (``/collections/{name}/shards/{id}/snapshot``), and what
Qdrant Edge unpacks (``EdgeShard.unpack_snapshot``). So an index built on a cluster (a RayJob
ingest into a Qdrant server, GPU embedding) can be served from one machine's Edge shard: take
the server's shard snapshot and ``load`` it here. ``save`` writes the served shard the same way,
for another machine or a server's shard recovery. Loading publishes the shard as a new
generation: a running graph switches to it as after an ingest, and a bad file changes nothing.

Settings as the graph's (``INDEX_PATH``, ``INDEX_COLLECTION``); prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from deployments.index.schema import DENSE, LEXICAL
from deployments.store.edge import EdgeStore
from deployments.store.generations import Generations
from deployments.store.points import StoreUnreadable
from models.settings import Settings

SHARD_PARTS = ("segments", "wal")  # what a shard snapshot holds


def save(folder: Path, out: Path) -> dict[str, Any]:
    """Write the served shard of the index at ``folder`` to ``out`` (written aside, then
    renamed: a reader of ``out`` never sees half a file)."""
    shard = Generations(folder).current()
    if shard is None:
        raise StoreUnreadable(f"the index at {folder} holds no shard yet: ingest first")
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.with_name(f".{out.name}.{os.getpid()}")
    # A copy first: the graph may be serving this shard, and a copy is what ingests take too.
    with tempfile.TemporaryDirectory(dir=folder) as copy:
        shutil.copytree(shard, Path(copy) / "shard")
        with tarfile.open(staged, "w") as archive:
            for part in SHARD_PARTS:
                archive.add(Path(copy) / "shard" / part, arcname=part)
    os.replace(staged, out)
    return {"saved": str(out), "shard": shard.name, "mb": round(out.stat().st_size / 2**20, 1)}


def load(snapshot: Path, folder: Path) -> dict[str, Any]:
    """Unpack ``snapshot`` into a new shard of the index at ``folder``, check it is an index
    (dense and lexical vectors), and publish it."""
    if not tarfile.is_tarfile(snapshot):
        raise StoreUnreadable(f"{snapshot} is not a shard snapshot (a tar file)")
    generations = Generations(folder)
    target = generations.fresh()
    try:
        qe.EdgeShard.unpack_snapshot(str(snapshot), str(target))
        # The first load derives the shard's config from its segments and writes it down:
        # the shard keeps the layout of the collection it came from (vectors, HNSW, quantization).
        qe.EdgeShard.load(str(target)).close()
        store = EdgeStore(target)
        dimension, points = store.dimension(DENSE), store.count()
        has_lexical = LEXICAL in store.sparse_names
        store.close()
    except Exception as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise StoreUnreadable(f"{snapshot} cannot be loaded: {exc}") from None
    if dimension is None or not has_lexical:
        shutil.rmtree(target, ignore_errors=True)
        raise StoreUnreadable(
            f"{snapshot} is not an arXiv index: it needs a {DENSE!r} dense and a {LEXICAL!r} "
            "sparse vector"
        )
    generations.publish(target)
    return {"loaded": str(snapshot), "shard": target.name, "points": points, "dimension": dimension}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deployments.store.snapshot", description=__doc__
    )
    parser.add_argument("action", choices=("save", "load"))
    parser.add_argument("file", type=Path, help="the snapshot file to write or read")
    args = parser.parse_args(argv)
    index = Settings.load().resolved().for_stages().arxiv.index
    if index.qdrant_url:
        print(
            "snapshot: QDRANT_URL is set; a server's shard snapshots are taken and recovered "
            "through its own API (see docs/scale.md)",
            file=sys.stderr,
        )
        return 2
    folder = Path(index.path) / index.collection
    try:
        result = save(folder, args.file) if args.action == "save" else load(args.file, folder)
    except StoreUnreadable as exc:
        print(f"snapshot: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
