"""The search sources under load: the arXiv API (through the stand-in) against the local index,
same graph, same queries, same machine, one run.

    python -m bench.load --sources [--config serve_config.yaml] [--quick]

The corpus of ``bench.load.versus_seed`` is ingested into a fresh index by the ingest job (with
stored summaries, as ``make ingest`` does; and once without, to show what summarising costs), then
each source answers the same distinct queries at concurrency 32: ``cold`` (empty memory) and
``warm`` (the same queries again). The stand-in enforces no politeness interval, so the API
figure is what the graph does with arXiv's latency taken away: the real API, at one request
every 3 s, caps a cold API source at 0.33 requests/s whatever the machine.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from arm_dev.arxiv import Record
from arm_dev.harness import arxiv_standin, log
from bench.data.corpus import benchmark_records, make_queries
from bench.load.driver import MAX_PAPERS, Graph, Run, run_graph

CONCURRENCY = 32


def kaggle_lines(records: list[Record]) -> list[str]:
    """The stand-in's records as Kaggle snapshot lines: what the ingest job reads."""
    return [
        json.dumps(
            {
                "id": r.arxiv_id,
                "title": r.title,
                "abstract": r.abstract,
                "authors": ", ".join(r.authors),
                "categories": " ".join(r.categories),
                "versions": [
                    {
                        "version": f"v{v}",
                        "created": r.published.strftime("%a, %d %b %Y %H:%M:%S GMT"),
                    }
                    for v in range(1, r.version + 1)
                ],
            }
        )
        for r in records
    ]


def ingest_into(path: Path, corpus: Path, summaries: bool) -> dict[str, Any]:
    """Run the ingest job (in the benchmark's Ray) into an embedded index at ``path``."""
    from deployments.index.paper_index import PaperIndex
    from deployments.ingest.job import ingest

    index = PaperIndex(384, path=str(path))
    try:
        report = ingest([str(corpus)], index, summaries=summaries, progress=False)
    finally:
        index.close()
    log(f"  ingest (summaries={summaries}): {report.indexed} records in {report.seconds} s")
    return {"records": report.indexed, "seconds": report.seconds}


async def benchmark_sources(config: Path, requests: int) -> dict[str, Any]:
    """Cold and warm requests/s at concurrency 32 for each source; the last line's figures."""
    records, corpus_name = benchmark_records()
    queries = make_queries(records, requests, min_hits=2 * MAX_PAPERS)[:requests]
    log(f"corpus: {corpus_name}, {len(records)} records; {len(queries)} distinct queries")
    figures: dict[str, Any] = {"corpus": corpus_name, "queries": len(queries)}
    runs: list[Run] = []
    with (
        arxiv_standin(records) as arxiv,
        tempfile.TemporaryDirectory(prefix="bench-sources-") as tmp,
    ):
        corpus = Path(tmp) / "corpus.jsonl"
        corpus.write_text("\n".join(kaggle_lines(records)) + "\n")
        graph = Graph(config)
        try:
            figures["ingest"] = ingest_into(Path(tmp) / "index", corpus, summaries=True)
            figures["ingest_no_summaries"] = ingest_into(
                Path(tmp) / "index-nosum", corpus, summaries=False
            )
            base = {"arxiv_api_url": arxiv.url, "arxiv_min_interval_s": 0.0}
            sources = {
                "api": {"arxiv_source": "api"},
                "index": {"arxiv_source": "index", "index_path": f"{tmp}/index"},
                "index-nosum": {"arxiv_source": "index", "index_path": f"{tmp}/index-nosum"},
            }
            for name, settings in sources.items():
                await graph.deploy(
                    **base,
                    **settings,
                    qdrant_path=f"{tmp}/memory-{name}",
                    outbox_path=f"{tmp}/memory-{name}.outbox",
                )
                for scenario in ("cold", "warm"):
                    run = await run_graph(graph, scenario, queries, CONCURRENCY)
                    run.system = name
                    runs.append(run)
        finally:
            graph.close()
    by = {(r.system, r.scenario): r for r in runs}
    api_cold = by[("api", "cold")].rps
    figures.update(
        {
            f"{r.system}_{r.scenario}_c{CONCURRENCY}": {
                "rps": r.rps,
                "p50_ms": r.p50_ms,
                "p95_ms": r.p95_ms,
                "errors": r.errors,
            }
            for r in runs
        }
    )
    figures["index_over_api_cold"] = round(by[("index", "cold")].rps / api_cold, 2)
    figures["index_nosum_over_api_cold"] = round(by[("index-nosum", "cold")].rps / api_cold, 2)
    print(source_table(runs))
    return figures


def source_table(runs: list[Run]) -> str:
    """Markdown: a row per source and scenario."""
    lines = [
        "| source | scenario | c | req/s | p50 ms | p95 ms | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.system} | {r.scenario} | {r.concurrency} | {r.rps:.2f} | {r.p50_ms:.0f} | "
        f"{r.p95_ms:.0f} | {r.errors} |"
        for r in runs
    ]
    return "\n".join(lines)
