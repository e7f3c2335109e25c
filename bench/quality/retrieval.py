"""Known-item search on SciTLDR-A: does a paper's own TLDR find its abstract?

    python -m bench.retrieval [--data FILE] [--queries dev|train] [--limit N] [--tune] [--no-api]

Queries: the author-written TLDR (the first reference) of each SciTLDR-A record of the query
split (``../shared/scitldr/scitldr_a_dev.jsonl`` by default). The one relevant document is that
record's abstract. The index holds the abstracts of SciTLDR-A train and dev, plus the shared
arXiv corpus (``../shared/arxiv/corpus/*.jsonl``, records with an abstract, one per arXiv id,
the highest version) as distractors. ``--data FILE`` (SciTLDR format): its abstracts join the
index as well and its TLDRs are the queries.

A SciTLDR record becomes an ``IndexRecord`` with arXiv id ``scitldr.<paper_id>``, an empty title
(SciTLDR has none), category ``cs.LG`` and a fixed date. Its dense vector is the abstract's
alone, embedded here and passed to ``PaperIndex.upsert``; its lexical terms come from
``embedding_text`` (". <abstract>"), the same terms as the abstract's, since punctuation makes
none. Records that share an abstract word for word (three pairs in train + dev under two paper
ids) are one document, relevant to both records' TLDRs: no method could tell them apart.

Methods, each scored by Recall@1/5/20 and MRR:

    fused         PaperIndex.rank, the dense + BM25 mix the arm searches with
    dense         the dense leg alone (MiniLM, cosine)
    lexical       the lexical leg alone (BM25 over stems)
    rrf           the plain recipe for comparison: reciprocal-rank fusion (k=60) of
                  the same two legs
    api_and       ArxivClient(fallback=False) against the local arXiv stand-in serving the same
                  documents: every query word ANDed, as arXiv does
    api_fallback  ArxivClient(fallback=True): the words ORed when ANDing finds fewer than 20

MRR is the mean reciprocal rank of the relevant document within what a method returns, 0 when
it is not there: the top 100 for the index methods (``LEG_DEPTH``, each leg's depth), the top
20 for the API path (it asks ``max_results=20``, as many as the arm asks for at most).

``--tune`` also scores ``fused`` for ``dense_weight`` 0.2 .. 0.7 on the train queries (one JSON
line per weight on stderr) and reports the best (by MRR, then Recall@5) as ``tuned``.

Document and query vectors are cached in ``~/.cache/research-arm/retrieval/``, keyed by a hash
of the model name and the texts, so a rerun skips the embedding (about 2 minutes on 2 cores).
The API path takes longest (about 10 minutes for dev on 2 cores): the stand-in reads every
record for every term of an ORed query. Progress goes to stderr; the last line of stdout is one
JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from arm_dev.arxiv import Record as StandInRecord
from arm_dev.arxiv import StandIn
from bench.data.scitldr import SHARED_SCITLDR, Record, load_records
from deployments.arxiv.client import ArxivClient
from deployments.common.packaged_model import model_display_name, packaged_model_path
from deployments.index.fusion import LEG_DEPTH
from deployments.index.paper_index import PaperIndex
from deployments.index.records import IndexRecord, read_records
from models.contracts import SearchRequest
from models.errors import ArxivQueryError, ArxivUnavailable
from models.paper import point_id

SHARED_CORPUS = SHARED_SCITLDR.parent / "arxiv" / "corpus"
SPLITS = {"dev": "scitldr_a_dev.jsonl", "train": "scitldr_a_train.jsonl"}
CACHE_DIR = Path.home() / ".cache" / "research-arm" / "retrieval"
KS = (1, 5, 20)
API_RESULTS = 20  # what the API path asks for per query
API_CONCURRENCY = 16
UPSERT_BATCH = 256
EMBED_CHUNK = 1024  # texts per embed call, for progress lines
SCITLDR_DATE = date(2020, 1, 1)  # any fixed date: nothing here filters by date
SCITLDR_CATEGORIES = ["cs.LG"]
TUNE_WEIGHTS = tuple(round(0.2 + 0.1 * i, 1) for i in range(6))  # 0.2 .. 0.7


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- metrics ----------------------------------------------------------------------------------


def known_item_metrics(ranks: Sequence[int | None], k: Sequence[int] = KS) -> dict[str, float]:
    """Recall@k for each k and MRR over queries, from the 1-based rank of each query's relevant
    document (None: not among what the method returned). Recall@k is the share of queries whose
    document is within the top k; MRR the mean of 1/rank, 0 for a missing one. No queries: 0s."""
    n = len(ranks)
    found = [r for r in ranks if r is not None]
    if any(r < 1 for r in found):
        raise ValueError("ranks are 1-based")
    out = {f"recall@{cut}": sum(r <= cut for r in found) / n if n else 0.0 for cut in k}
    out["mrr"] = sum(1.0 / r for r in found) / n if n else 0.0
    return out


def rank_of(relevant: str, ranked: Sequence[str]) -> int | None:
    """1-based position of ``relevant`` in ``ranked``; None when absent."""
    for position, item in enumerate(ranked, start=1):
        if item == relevant:
            return position
    return None


def rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 4) for name, value in metrics.items()}


# -- documents --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    """One indexed document: its record, the text its dense vector is made from, and the id the
    arXiv stand-in serves it under."""

    record: IndexRecord
    text: str
    standin_id: str


@dataclass(frozen=True)
class Query:
    """A TLDR and the arXiv id (in the index) of the abstract it should find."""

    text: str
    arxiv_id: str


def corpus_records(paths: Sequence[Path]) -> tuple[list[IndexRecord], int]:
    """IndexRecords of JSON Lines files, one per arXiv id (the highest version; the first read
    on a tie), and how many lines gave no record (no abstract, ...)."""
    best: dict[str, IndexRecord] = {}
    bad = 0
    for path in paths:
        for item in read_records(path):
            if not isinstance(item, IndexRecord):
                bad += 1
                continue
            held = best.get(item.arxiv_id)
            if held is None or item.version > held.version:
                best[item.arxiv_id] = item
    return list(best.values()), bad


def scitldr_index_record(arxiv_id: str, abstract: str) -> IndexRecord:
    return IndexRecord(
        arxiv_id=arxiv_id,
        version=1,
        title="",
        abstract=abstract,
        authors=[],
        categories=list(SCITLDR_CATEGORIES),
        published=SCITLDR_DATE,
        updated=SCITLDR_DATE,
    )


def standin_scitldr_id(n: int) -> str:
    """A new-style arXiv id of a month arXiv never had (90.01), for the stand-in only."""
    if n >= 100_000:
        raise ValueError("more than 100000 SciTLDR documents: 9001.NNNNN ids run out")
    return f"9001.{n:05d}"


def build_documents(
    scitldr_sets: Sequence[Sequence[Record]], corpus: Sequence[IndexRecord]
) -> tuple[list[Doc], dict[str, str]]:
    """The index's documents (SciTLDR abstracts first, then the corpus) and, per abstract text,
    the arXiv id of its document. One document per distinct abstract; ids ``scitldr.<paper_id>``,
    made unique with a suffix when a paper id comes back with another abstract."""
    docs: list[Doc] = []
    by_abstract: dict[str, str] = {}
    used: set[str] = {r.arxiv_id for r in corpus}
    for records in scitldr_sets:
        for rec in records:
            if rec.abstract in by_abstract:
                continue
            arxiv_id, k = f"scitldr.{rec.paper_id}", 1
            while arxiv_id in used:
                arxiv_id, k = f"scitldr.{rec.paper_id}.{k}", k + 1
            used.add(arxiv_id)
            by_abstract[rec.abstract] = arxiv_id
            docs.append(
                Doc(
                    scitldr_index_record(arxiv_id, rec.abstract),
                    rec.abstract,
                    standin_scitldr_id(len(docs)),
                )
            )
    docs.extend(Doc(r, r.embedding_text, r.arxiv_id) for r in corpus)
    return docs, by_abstract


def queries_for(records: Sequence[Record], by_abstract: dict[str, str]) -> list[Query]:
    """The author-written TLDR (first reference) of each record that has one."""
    return [Query(r.references[0], by_abstract[r.abstract]) for r in records if r.references]


def standin_records(docs: Sequence[Doc]) -> list[StandInRecord]:
    """The same documents as the arXiv stand-in serves them."""
    out = []
    for doc in docs:
        r = doc.record
        published = datetime(r.published.year, r.published.month, r.published.day, tzinfo=UTC)
        updated = datetime(r.updated.year, r.updated.month, r.updated.day, tzinfo=UTC)
        out.append(
            StandInRecord(
                arxiv_id=doc.standin_id,
                title=r.title,
                abstract=r.abstract,
                authors=list(r.authors),
                categories=list(r.categories),
                published=published,
                updated=updated,
                version=r.version,
            )
        )
    return out


# -- vectors ----------------------------------------------------------------------------------


class Vectors:
    """Unit vectors of texts, cached on disk per (model, texts); the model loads on a miss."""

    def __init__(self, cache_dir: Path = CACHE_DIR) -> None:
        self.cache_dir = cache_dir
        self.model_name = model_display_name(packaged_model_path())
        self._embedder: Any = None

    def _key(self, texts: Sequence[str]) -> str:
        digest = hashlib.sha256(self.model_name.encode())
        for text in texts:
            digest.update(b"\x00" + text.encode("utf-8"))
        return digest.hexdigest()[:32]

    def __call__(self, texts: Sequence[str], what: str) -> np.ndarray:
        path = self.cache_dir / f"{self._key(texts)}.npy"
        if path.exists():
            vectors = np.load(path)
            if vectors.shape[0] == len(texts):
                log(f"{what}: {len(texts)} vectors from the cache ({path})")
                return vectors
        embedder = self._load()
        started = time.perf_counter()
        parts = []
        for start in range(0, len(texts), EMBED_CHUNK):
            parts.append(embedder.embed(list(texts[start : start + EMBED_CHUNK])))
            done = min(len(texts), start + EMBED_CHUNK)
            log(f"{what}: embedded {done}/{len(texts)} ({time.perf_counter() - started:.0f}s)")
        vectors = np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), "float32")
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(partial, vectors)
        partial.replace(path)
        return vectors

    def _load(self) -> Any:
        if self._embedder is None:
            from deployments.common.process import configure_model_process
            from deployments.embedder.text_embedder import TextEmbedder

            configure_model_process(torch_threads=1)
            self._embedder = TextEmbedder(workers=2, batch_size=16)
        return self._embedder


# -- methods ----------------------------------------------------------------------------------


def index_ranks(
    index: PaperIndex, queries: Sequence[Query], vectors: np.ndarray, mode: str
) -> list[int | None]:
    """Rank of each query's document in the index's top ``LEG_DEPTH`` for one mode."""
    ranks = []
    for query, vector in zip(queries, vectors, strict=True):
        ranked = index.rank(vector, query.text, LEG_DEPTH, mode=mode)
        ranks.append(rank_of(point_id(query.arxiv_id), [pid for pid, _ in ranked]))
    return ranks


class _NoGate:
    """No politeness gate: the stand-in is local, not arXiv, so queries may run concurrently."""

    async def acquire(self) -> tuple[int, float]:
        return 0, 0.0

    async def release(self, token: int, hold_off_s: float = 0.0) -> None:
        return None


async def api_ranks(
    url: str, queries: Sequence[Query], to_standin: dict[str, str], fallback: bool
) -> tuple[list[int | None], int]:
    """Rank of each query's document among the stand-in's top ``API_RESULTS`` through
    ArxivClient, and how many searches failed (counted as not found)."""
    client = ArxivClient(url, gate=_NoGate(), backoff_base_s=0.01, fallback=fallback)
    failed = 0

    async def one(query: Query) -> int | None:
        nonlocal failed
        try:
            result = await client.search(SearchRequest(query.text, max_results=API_RESULTS))
        except ArxivQueryError:  # no searchable words: nothing found
            return None
        except ArxivUnavailable as exc:
            failed += 1
            log(f"  api: {exc}")
            return None
        return rank_of(to_standin[query.arxiv_id], [p.arxiv_id for p in result.papers])

    ranks: list[int | None] = []
    try:
        for start in range(0, len(queries), API_CONCURRENCY):
            chunk = queries[start : start + API_CONCURRENCY]
            ranks.extend(await asyncio.gather(*(one(q) for q in chunk)))
    finally:
        await client.aclose()
    return ranks, failed


def timed(name: str, started: float, metrics: dict[str, float]) -> None:
    log(f"{name}: {json.dumps(rounded(metrics))} ({time.perf_counter() - started:.1f}s)")


# -- the run ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Known-item search on SciTLDR-A: a paper's TLDR looking for its abstract, "
        "through the local index (fused, dense, lexical, rrf) and the arXiv API path (stand-in).",
        epilog=f"Document and query vectors are cached in {CACHE_DIR} (keyed by a hash of the "
        "model name and the texts): a rerun skips the embedding (~2 min on 2 cores). "
        "Delete the folder to embed afresh.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="a SciTLDR-format file: its abstracts join the index, its TLDRs are the queries",
    )
    parser.add_argument(
        "--queries",
        choices=sorted(SPLITS),
        default="dev",
        help="SciTLDR-A split whose TLDRs are the queries (default dev; ignored with --data)",
    )
    parser.add_argument("--limit", type=int, default=None, help="first N queries only")
    parser.add_argument(
        "--tune",
        action="store_true",
        help="also score fused for dense_weight 0.2..0.7 on the train queries; report the best",
    )
    parser.add_argument(
        "--no-api", action="store_true", help="skip the API path (most of the run's time)"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()

    splits = {name: load_records(SHARED_SCITLDR / file) for name, file in SPLITS.items()}
    extra = load_records(args.data) if args.data else []
    corpus, bad = corpus_records(sorted(SHARED_CORPUS.glob("*.jsonl")))
    docs, by_abstract = build_documents([splits["train"], splits["dev"], extra], corpus)
    log(
        f"documents: {len(docs)} ({len(docs) - len(corpus)} SciTLDR, {len(corpus)} arXiv corpus; "
        f"{bad} corpus lines without a record)"
    )
    label = args.data.stem if args.data else args.queries
    queries = queries_for(extra if args.data else splits[args.queries], by_abstract)
    queries = queries[: args.limit] if args.limit is not None else queries
    tune_queries = queries_for(splits["train"], by_abstract) if args.tune else []
    tune_queries = tune_queries[: args.limit] if args.limit is not None else tune_queries

    vectors = Vectors()
    doc_vectors = vectors([d.text for d in docs], "documents")
    query_vectors = vectors([q.text for q in queries], f"{label} queries")
    tune_vectors = vectors([q.text for q in tune_queries], "train queries") if args.tune else None

    result: dict[str, Any] = {"n": len(queries)}
    tuned: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as folder:
        index = PaperIndex(doc_vectors.shape[1], path=folder)
        try:
            t = time.perf_counter()
            for start in range(0, len(docs), UPSERT_BATCH):
                batch = slice(start, start + UPSERT_BATCH)
                index.upsert([d.record for d in docs[batch]], doc_vectors[batch])
            index.finish()  # the search indexes built, as after an ingest
            index_size = index.stats().records
            log(f"index: {index_size} points ({time.perf_counter() - t:.1f}s)")
            for mode in ("fused", "dense", "lexical", "rrf"):
                t = time.perf_counter()
                metrics = known_item_metrics(index_ranks(index, queries, query_vectors, mode))
                result[mode] = rounded(metrics)
                timed(mode, t, metrics)
            if args.tune and tune_vectors is not None:
                tuned = tune(index, tune_queries, tune_vectors)
        finally:
            index.close()

    to_standin = {d.record.arxiv_id: d.standin_id for d in docs}
    # No politeness gate (_NoGate): the stand-in is local, so the API path runs 16 at a time.
    with StandIn(standin_records(docs)) as server:
        for name, fallback in () if args.no_api else (("api_and", False), ("api_fallback", True)):
            t = time.perf_counter()
            ranks, failed = asyncio.run(api_ranks(server.url, queries, to_standin, fallback))
            metrics = known_item_metrics(ranks)
            result[name] = rounded(metrics)
            timed(name + (f" ({failed} failed)" if failed else ""), t, metrics)

    if tuned is not None:
        result["tuned"] = tuned
    result.update(
        index_size=index_size,
        queries=label,
        machine=f"{platform.platform()}, {os.cpu_count()} CPUs",
        seconds=round(time.perf_counter() - started, 1),
    )
    print(json.dumps(result))


def tune(index: PaperIndex, queries: Sequence[Query], vectors: np.ndarray) -> dict[str, Any]:
    """Fused metrics on ``queries`` for each weight in ``TUNE_WEIGHTS`` (a line each on
    stderr); the best by MRR, then Recall@5. Leaves the index's weight as it found it."""
    original = index.dense_weight
    scored = []
    try:
        for weight in TUNE_WEIGHTS:
            t = time.perf_counter()
            index.dense_weight = weight
            metrics = rounded(known_item_metrics(index_ranks(index, queries, vectors, "fused")))
            line = {"dense_weight": weight, "n": len(queries), **metrics}
            log(f"{json.dumps(line)} ({time.perf_counter() - t:.1f}s)")
            scored.append(line)
    finally:
        index.dense_weight = original
    return max(scored, key=lambda m: (m["mrr"], m["recall@5"]))


if __name__ == "__main__":
    main()
