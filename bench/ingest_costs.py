"""``python -m bench.ingest_costs``: what one record costs an ingest, stage by stage, on this
machine's CPU, for the scale plan (docs/scale.md).

Over the first ``--records`` records of the shared development corpus (real arXiv metadata),
one process, each stage timed alone: ``parse`` (JSON line -> ``IndexRecord``), ``lexical``
(BM25 terms), ``embed`` (MiniLM on CPU, the ingest's batch size, ``--threads`` torch threads),
``summary`` (the extractive summary, its sentence embeddings included), and ``write`` (the
store write: ``PaperIndex.upsert`` less its lexical terms). Prints one JSON line of CPU
milliseconds per record.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time

import numpy as np
import torch

from bench.quality.retrieval import SHARED_CORPUS
from deployments.embedder.text_embedder import TextEmbedder
from deployments.index.lexical import LexicalEncoder
from deployments.index.paper_index import PaperIndex
from deployments.index.records import IndexRecord, read_records
from deployments.summarizer.extractive import ExtractiveSummarizer


def per_record_ms(seconds: float, n: int) -> float:
    return round(1000 * seconds / n, 3)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_costs", description=__doc__)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--summaries", type=int, default=100, help="records summarised")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    started = time.process_time()
    records: list[IndexRecord] = []
    for path in sorted(SHARED_CORPUS.glob("*.jsonl")):
        records += [r for r in read_records(path) if isinstance(r, IndexRecord) and r.abstract]
    parse_s = time.process_time() - started
    parsed = len(records)  # every line of the corpus was parsed for these
    records = records[: args.records]
    texts = [r.embedding_text for r in records]

    lexical = LexicalEncoder()
    started = time.process_time()
    for text in texts:
        lexical.document(text)
    lexical_s = time.process_time() - started

    embedder = TextEmbedder(batch_size=32, workers=1)
    embedder.embed(texts[:32])  # the first batch warms the model
    wall = time.perf_counter()
    vectors = embedder.embed(texts)
    embed_wall_s = time.perf_counter() - wall

    summarizer = ExtractiveSummarizer(lambda batch: _embed(embedder, batch))
    wall = time.perf_counter()
    for record in records[: args.summaries]:
        asyncio.run(summarizer.summarize(record.title, record.abstract))
    summary_wall_s = time.perf_counter() - wall

    with tempfile.TemporaryDirectory() as folder:
        index = PaperIndex(vectors.shape[1], path=folder)
        started = time.process_time()
        for start in range(0, len(records), 256):
            index.upsert(records[start : start + 256], vectors[start : start + 256])
        upsert_s = time.process_time() - started
        index.close()

    print(
        json.dumps(
            {
                "records": len(records),
                "parse_ms": per_record_ms(parse_s, parsed),
                "lexical_ms": per_record_ms(lexical_s, len(records)),
                "write_ms": per_record_ms(max(upsert_s - lexical_s, 0.0), len(records)),
                "embed_ms": per_record_ms(embed_wall_s * args.threads, len(records)),
                "summary_ms": per_record_ms(summary_wall_s * args.threads, args.summaries),
                "embed_per_s": round(len(records) / embed_wall_s, 1),
                "threads": args.threads,
                "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
                "note": "embed and summary: wall time x threads (torch's own threads)",
            }
        )
    )


async def _embed(embedder: TextEmbedder, texts: list[str]) -> np.ndarray:
    return embedder.embed(texts)


if __name__ == "__main__":
    main()
