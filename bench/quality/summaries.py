"""Measure a summarizer backend on SciTLDR (Cachola et al., 2020).

    python -m bench.summaries --data ../shared/scitldr/scitldr_a_dev.jsonl
                              [--backend extractive|openai|vllm|lead|centroid|oracle] [--limit N]

It runs the project's own summarizer code on each record's abstract (its ``source`` sentences
joined) and scores the summary against the record's references: ROUGE-1/2/L F1 x 100, stemmed,
best over the references, as the paper scores (``rouge-score``). Progress goes to stderr; the
last line of stdout is one JSON object with the figures.

``lead`` (the first sentence), ``centroid`` (the sentence closest to the abstract's MiniLM
centroid) and ``oracle`` (the sentence that scores best against the references; an upper bound,
not a summarizer) are reference points. ``openai`` needs OPENAI_BASE_URL (SUMMARIZER_MODEL,
OPENAI_API_KEY); ``vllm`` needs ``pip install .[vllm]``, a GPU and SUMMARIZER_MODEL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.scitldr import METRICS, Record, Rouge, load_records
from deployments.summarizer.backend import SummaryBackend
from deployments.summarizer.backend import make_backend as summarizer_backend
from deployments.summarizer.faithfulness import faithfulness_issues
from deployments.summarizer.text import split_sentences
from models.errors import StageError
from models.settings import Settings, read_secret


class _Baseline:
    """Reference points that are not the product: lead, centroid and the oracle."""

    def __init__(self, name: str, embedder: Any = None, rouge: Rouge | None = None) -> None:
        self.name = name
        self.model_name = name
        self._embedder = embedder
        self._rouge = rouge
        self.references: list[str] = []
        self.max_words = 0  # reference points pick a whole sentence

    async def check(self) -> None:
        """Nothing to check: no model or endpoint of their own."""

    async def aclose(self) -> None:
        """Nothing to release."""

    async def summarize(self, title: str, abstract: str) -> str:
        sentences = split_sentences(abstract)
        if self.name == "lead":
            return sentences[0]
        if self.name == "oracle" and self._rouge is not None:
            return max(sentences, key=lambda s: self._rouge(s, self.references)["rouge1"])  # type: ignore[misc]
        vectors = await asyncio.to_thread(self._embedder.embed, sentences)
        centroid = vectors.mean(axis=0)
        return sentences[int(np.argmax(vectors @ centroid))]


def make_backend(name: str, rouge: Rouge) -> tuple[SummaryBackend, Any]:
    """(backend, something to shut down) for a name: the reference points here, the arm's own
    backends through the arm's own factory, configured from the environment like the arm."""
    if name in ("lead", "oracle"):
        return _Baseline(name, rouge=rouge), None
    settings = Settings.load()
    embedder = None
    if name in ("extractive", "centroid"):
        from deployments.common.process import configure_model_process
        from deployments.embedder.text_embedder import TextEmbedder

        configure_model_process()
        embedder = TextEmbedder(settings.embedding_model)
        if name == "centroid":
            return _Baseline("centroid", embedder), None

    async def embed(texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(embedder.embed, texts)  # type: ignore[union-attr]

    llm = closer = None
    if name == "vllm":
        from ray import serve

        from graph import _vllm_deployment

        if not settings.summarizer_model:
            raise SystemExit("--backend vllm needs SUMMARIZER_MODEL (a model id or local path)")
        llm = serve.run(
            _vllm_deployment(None, settings.summarizer_model), name="bench-llm", route_prefix=None
        )
        closer = serve
    try:
        key = read_secret("openai_api_key")
        backend = summarizer_backend(
            settings.model_copy(update={"summarizer_backend": name}).for_stages().summarizer,
            embed=embed if embedder else None,
            llm=llm,
            openai_api_key=key.get_secret_value() if key else None,
        )
    except ValueError as exc:
        raise SystemExit(f"--backend {name}: {exc}") from exc
    return backend, closer


async def evaluate(
    backend: SummaryBackend, records: list[Record], rouge: Rouge, concurrency: int
) -> dict[str, Any]:
    scores = {m: [] for m in METRICS}  # type: dict[str, list[float]]
    words, faithful, failed = [], 0, 0
    gate = asyncio.Semaphore(concurrency)
    done = 0
    started = time.perf_counter()
    step = max(1, len(records) // 20)

    async def one(record: Record) -> None:
        nonlocal done, faithful, failed
        async with gate:
            if isinstance(backend, _Baseline):
                backend.references = record.references
            try:
                summary = await backend.summarize("", record.abstract)
            except StageError as exc:
                print(f"  {record.paper_id}: {exc.message}", file=sys.stderr)
                summary = ""
                failed += 1
        for metric, value in rouge(summary, record.references).items():
            scores[metric].append(value)
        words.append(len(summary.split()))
        faithful += int(bool(summary) and not faithfulness_issues(summary, record.abstract))
        done += 1
        if done % step == 0 or done == len(records):
            print(
                f"  [{done}/{len(records)}] rouge1 {np.mean(scores['rouge1']):.2f} "
                f"({time.perf_counter() - started:.0f}s)",
                file=sys.stderr,
                flush=True,
            )

    if isinstance(backend, _Baseline) and backend.name == "oracle":
        concurrency = 1  # the oracle reads the current record's references
    await asyncio.gather(*(one(r) for r in records))
    seconds = time.perf_counter() - started
    return {
        **{m: round(float(np.mean(v)), 2) for m, v in scores.items()},
        "n": len(records),
        "mean_words": round(float(np.mean(words)), 1),
        "faithful_rate": round(faithful / max(1, len(records)), 3),
        "failed": failed,
        "seconds": round(seconds, 1),
        "ms_per_abstract": round(1000 * seconds / max(1, len(records)), 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="ROUGE of a summarizer backend on SciTLDR")
    parser.add_argument("--data", type=Path, required=True, help="SciTLDR JSON Lines file")
    parser.add_argument(
        "--backend",
        default=None,
        help="extractive (default: SUMMARIZER_BACKEND), openai, vllm, lead, centroid, oracle",
    )
    parser.add_argument("--limit", type=int, default=None, help="first N records only")
    parser.add_argument("--concurrency", type=int, default=8, help="summaries in flight")
    args = parser.parse_args(argv)
    name = args.backend or Settings.load().summarizer_backend
    records = load_records(args.data, args.limit)
    rouge = Rouge()
    backend, closer = make_backend(name, rouge)
    concurrency = 1 if name == "oracle" else args.concurrency
    print(f"{name}: {len(records)} records from {args.data}", file=sys.stderr)
    try:
        result = asyncio.run(evaluate(backend, records, rouge, concurrency))
    finally:
        if closer is not None:
            closer.shutdown()
    print(
        json.dumps({**result, "backend": name, "model": backend.model_name, "data": args.data.name})
    )


if __name__ == "__main__":
    main()
