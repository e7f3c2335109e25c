"""``python -m bench.scale``: the local index's store at 10k to 1M records, per engine.

Prints one JSON line per engine and size::

    {"engine": "edge"|"local"|"server", "n": N, "write_per_s": .., "build_s": .., "disk_mb": ..,
     "rss_mb": .., "open_s": .., "search_ms": {"p50": .., "p99": ..},
     "filtered_ms": {"p50": .., "p99": ..}, "c8_over_c1": .., "memory_search_ms": {...}}

and a plot (``--plot``, default ``bench/results/scale.png``).

- Records are synthetic, shaped like arXiv's: titles of 6-14 words and abstracts of 80-250,
  words drawn from the real abstracts of the shared SciTLDR files; published dates over 20
  years; 1-3 categories from arXiv's list; clustered unit vectors (384-d, 2,000 clusters).
  Nothing is embedded: this measures the store.
- ``write_per_s``: records/s through ``PaperIndex.upsert`` (lexical terms made, the payload
  built, the points written; embedding excluded). ``build_s``: ``finish`` (HNSW and payload
  indexes, segments merged). ``disk_mb``: the folder after the build.
- The serving side is measured in a fresh process, as the ArxivFetcher opens the index:
  ``open_s``, then fused hybrid searches (``PaperIndex.rank``, both legs and the mix) at
  concurrency 1, without a filter and with a date range + category filter (p50/p99 of 200
  queries; 40 for the old mode), ``c8_over_c1`` (searches/s with 8 threads over 1),
  ``dense_recall_at_10`` (the dense leg as served, HNSW and int8 quantization, against an
  exact scan), and ``rss_mb``.
- ``memory_search_ms``: ``POST /memory/search``'s store call (``PaperMemory.search``) with
  ``n`` papers stored, for n <= 100,000 (memory grows with use, not with arXiv).
- ``local``: qdrant-client's old embedded mode, the baseline, at ``--local-sizes`` (it passes
  1 s a query near 20,000 points). ``server``: a Qdrant server, when ``QDRANT_URL`` is set.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.scitldr import SHARED_SCITLDR, load_records
from deployments.index.paper_index import PaperIndex
from deployments.index.records import IndexRecord
from deployments.index.schema import DENSE
from deployments.store.points import Leg

DIM = 384
CLUSTERS = 2_000
BATCH = 1_000  # records per upsert, as the ingest writes
QUERIES = 200
WARMUP = 20  # queries answered before the timed ones
LOCAL_QUERIES = 40  # the old mode takes up to a second a query: fewer, for the baseline only
CATEGORIES = (
    "cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML", "math.OC", "math.PR", "math.CO", "quant-ph",
    "hep-th", "hep-ph", "gr-qc", "astro-ph.CO", "astro-ph.GA", "astro-ph.SR", "cond-mat.mes-hall",
    "cond-mat.str-el", "cond-mat.stat-mech", "physics.optics", "q-bio.NC", "eess.SP", "econ.EM",
)  # fmt: skip
FIRST_DAY = date(2005, 1, 1)
DAYS = 20 * 365


def vocabulary() -> list[str]:
    """Words of the shared SciTLDR abstracts, with their real frequencies (repeats kept)."""
    words: list[str] = []
    for name in ("scitldr_a_train.jsonl", "scitldr_a_dev.jsonl"):
        for record in load_records(SHARED_SCITLDR / name):
            words += record.abstract.split()
    return words


class Synthetic:
    """Reproducible arXiv-like records and their vectors, a batch at a time. The cluster
    centres are the same for every ``seed`` (queries fall among the records, as real queries
    do); ``seed`` draws the records or queries around them."""

    def __init__(self, seed: int = 7) -> None:
        self.words = vocabulary()
        self.rng = random.Random(seed)
        centres = np.random.default_rng(0).standard_normal((CLUSTERS, DIM)).astype(np.float32)
        self.centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        self.np_rng = np.random.default_rng(seed)

    def text(self, low: int, high: int) -> str:
        return " ".join(self.rng.choices(self.words, k=self.rng.randint(low, high)))

    def vectors(self, n: int) -> np.ndarray:
        picked = self.centres[self.np_rng.integers(0, CLUSTERS, n)]
        noisy = picked + 0.35 * self.np_rng.standard_normal((n, DIM)).astype(np.float32) / 8
        return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)

    def records(self, start: int, n: int) -> list[IndexRecord]:
        out = []
        for i in range(start, start + n):
            day = FIRST_DAY + timedelta(days=self.rng.randrange(DAYS))
            out.append(
                IndexRecord(
                    arxiv_id=f"{day:%y%m}.{i:07d}",
                    version=1,
                    title=self.text(6, 14),
                    abstract=self.text(80, 250),
                    authors=["A. Author", "B. Author"],
                    categories=self.rng.sample(CATEGORIES, self.rng.randint(1, 3)),
                    published=day,
                    updated=day,
                )
            )
        return out

    def batches(self, n: int) -> Iterator[tuple[list[IndexRecord], np.ndarray]]:
        for start in range(0, n, BATCH):
            size = min(BATCH, n - start)
            yield self.records(start, size), self.vectors(size)


def folder_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)
    return {"p50": round(statistics.median(ms), 2), "p99": round(ms[int(0.99 * (len(ms) - 1))], 2)}


def open_index(engine: str, folder: Path, dimension: int | None) -> PaperIndex:
    if engine == "server":
        return PaperIndex(dimension, url=os.environ["QDRANT_URL"], collection="bench_scale")
    if engine == "local":
        from bench.scale_local import LocalIndex  # the old embedded mode, for the baseline

        return LocalIndex(dimension, folder)
    return PaperIndex(dimension, path=str(folder))


def build(engine: str, folder: Path, n: int) -> dict[str, Any]:
    """Write ``n`` synthetic records and build the indexes; the writer's figures."""
    data = Synthetic()
    index = open_index(engine, folder, DIM)
    # The ingest seals a segment every SEGMENT_RECORDS inside ``upsert`` (its HNSW is built
    # there): that time is counted as build, not as writing.
    assert index.store is not None
    sealing_s = [0.0]
    seal = index.store.optimize

    def timed_seal() -> None:
        sealing_s[0] += timed(seal)

    index.store.optimize = timed_seal  # type: ignore[method-assign]
    written, writing_s = 0, 0.0
    for records, vectors in data.batches(n):
        started = time.perf_counter()
        written += index.upsert(records, vectors)
        writing_s += time.perf_counter() - started
    sealed_s = sealing_s[0]
    finish_s = timed(index.finish)
    index.close()
    return {
        "write_per_s": round(written / (writing_s - sealed_s), 1),
        "build_s": round(sealed_s + finish_s, 1),
        "disk_mb": folder_mb(folder) if engine != "server" else None,
    }


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def measure(engine: str, folder: Path, n: int) -> dict[str, Any]:
    """The serving side, in this (fresh) process: open, search, RSS."""
    import psutil

    data = Synthetic(seed=11)
    started = time.perf_counter()
    index = open_index(engine, folder, None)
    index.stats()
    open_s = time.perf_counter() - started
    count = LOCAL_QUERIES if engine == "local" else QUERIES
    queries = [data.text(4, 12) for _ in range(count)]
    vectors = data.vectors(count)
    window = {"start_date": date(2015, 1, 1), "end_date": date(2019, 12, 31)}

    def search(i: int, **kw: Any) -> None:
        index.rank(vectors[i], queries[i], 10, **kw)

    # A serving fetcher has answered queries before: WARMUP others page in what the engine
    # reads (graphs, posting lists, payload) before the timed ones.
    warmup = Synthetic(seed=13)
    for text, vector in zip(
        [warmup.text(4, 12) for _ in range(WARMUP)], warmup.vectors(WARMUP), strict=True
    ):
        index.rank(vector, text, 10)
    plain = [timed(partial(search, i)) for i in range(count)]
    filtered = [
        timed(partial(search, i, categories=[CATEGORIES[i % 5]], **window)) for i in range(count)
    ]
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(search, range(count)))
    c8_per_s = count / (time.perf_counter() - started)
    c1_per_s = count / sum(plain)
    # As served, before the recall check's exact scans read every float vector from disk.
    memory = psutil.Process().memory_full_info()
    # The old mode scans every point: exact by construction, nothing to measure.
    recall = dense_recall(index, vectors) if engine != "local" else None
    result: dict[str, Any] = {
        "open_s": round(open_s, 2),
        "search_ms": percentiles(plain),
        "filtered_ms": percentiles(filtered),
        "c8_over_c1": round(c8_per_s / c1_per_s, 2),
        "dense_recall_at_10": recall,
        "rss_mb": round(memory.rss / 2**20, 1),
        # Of it, pages of memory-mapped files (vectors, sparse index, payload on disk): the
        # kernel drops them under memory pressure and reads them again; the rest cannot go.
        "rss_file_mb": round(memory.shared / 2**20, 1),
    }
    index.close()
    return result


def dense_recall(index: PaperIndex, vectors: np.ndarray) -> float:
    """The dense leg's top 10 as served (HNSW, int8 with rescoring) against an exact scan of
    the full vectors: the share of the true top 10 found, over the first 50 queries."""
    assert index.store is not None
    found = 0
    for vector in vectors[:50]:
        approx, exact = index.store.query(
            [
                Leg(DENSE, 10, dense=vector.tolist()),
                Leg(DENSE, 10, dense=vector.tolist(), exact=True),
            ]
        )
        found += len({h.id for h in approx} & {h.id for h in exact})
    return round(found / (10 * 50), 4)


def memory_search(n: int) -> dict[str, float]:
    """``PaperMemory.search`` p50/p99 with ``n`` papers stored (written through its store)."""
    from deployments.memory.paper_memory import PaperMemory
    from deployments.store.points import NewPoint
    from models.contracts import MemoryQuery

    data = Synthetic(seed=3)
    with tempfile.TemporaryDirectory() as tmp:
        memory = PaperMemory(DIM, path=tmp)
        for records, vectors in data.batches(n):
            points = []
            for record, vector in zip(records, vectors, strict=True):
                paper = record.to_paper().model_dump(mode="json", exclude={"summary"})
                payload = {"arxiv_id": record.arxiv_id, "paper": paper, "query_log": {}}
                points.append(NewPoint(id=str(record.arxiv_id), dense=vector, payload=payload))
            memory.store.upsert([_with_uuid(p) for p in points])
        memory.store.optimize()
        probes = data.vectors(QUERIES)
        samples = [timed(partial(memory.search, MemoryQuery(vector=v, limit=10))) for v in probes]
        memory.close()
    return percentiles(samples)


def _with_uuid(point: Any) -> Any:
    from dataclasses import replace

    from models.paper import point_id

    return replace(point, id=point_id(point.id))


def run(engine: str, n: int, root: Path, memory_up_to: int, keep: bool = False) -> dict[str, Any]:
    folder = root / f"{engine}-{n}"
    shutil.rmtree(folder, ignore_errors=True)
    row: dict[str, Any] = {"engine": engine, "n": n, **build(engine, folder, n)}
    # A fresh process opens it, as the fetcher would after a restart.
    serving = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--measure", engine, str(folder), str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    row.update(json.loads(serving.stdout.strip().splitlines()[-1]))
    if engine == "edge" and n <= memory_up_to:
        row["memory_search_ms"] = memory_search(n)
    if engine != "server" and not keep:
        shutil.rmtree(folder, ignore_errors=True)
    return row


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for engine in sorted({r["engine"] for r in rows}):
        mine = [r for r in rows if r["engine"] == engine]
        sizes = [r["n"] for r in mine]
        axes[0].plot(sizes, [r["search_ms"]["p50"] for r in mine], "o-", label=f"{engine} p50")
        axes[0].plot(sizes, [r["search_ms"]["p99"] for r in mine], "x--", label=f"{engine} p99")
        axes[1].plot(sizes, [r["rss_mb"] for r in mine], "o-", label=engine)
    for ax, label in zip(axes, ("fused search, ms", "serving RSS, MiB"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("records")
        ax.set_ylabel(label)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="Edge sizes")
    parser.add_argument("--local-sizes", default="10000,20000", help="old embedded mode sizes")
    parser.add_argument("--memory-up-to", type=int, default=100_000)
    parser.add_argument("--plot", type=Path, default=Path("bench/results/scale.png"))
    parser.add_argument("--dir", type=Path, default=None, help="where the stores are built")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the stores built (in --dir, which it then needs) to serve or measure again "
        "(--measure ENGINE FOLDER N)",
    )
    parser.add_argument("--measure", nargs=3, metavar=("ENGINE", "FOLDER", "N"))
    args = parser.parse_args(argv)
    if args.measure:
        engine, folder, n = args.measure
        print(json.dumps(measure(engine, Path(folder), int(n))))
        return
    plan = [("local", int(n)) for n in args.local_sizes.split(",") if n]
    plan += [("edge", int(n)) for n in args.sizes.split(",") if n]
    if os.environ.get("QDRANT_URL"):
        plan += [("server", int(n)) for n in args.sizes.split(",") if n]
    if args.keep and args.dir is None:
        parser.error("--keep needs --dir: where the stores stay")
    rows = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = args.dir if args.keep else Path(tmp)
        for engine, n in plan:
            row = run(engine, n, root, args.memory_up_to, args.keep)
            print(json.dumps(row), flush=True)
            rows.append(row)
    plot(rows, args.plot)
    print(f"plot: {args.plot}", file=sys.stderr)


if __name__ == "__main__":
    main()
