"""The evidence scenario: ``/execute`` with ``include_evidence`` under load, against the
stand-in's generated full texts (one per paper of the benchmark corpus).

    python -m bench.load --evidence [--config serve_config.yaml] [--quick]

For each concurrency (8, 32) a fresh graph: ``plain_first`` (the queries without evidence:
searches cached, papers embedded, summarised and stored), ``cold`` (with evidence: every paper's
full text fetched, parsed, its passages embedded and stored, and summaries written from the
evidence), ``warm`` (the same again: passages stored, only ranked; summaries kept by the
Ingress), ``warm_plain`` (without evidence again: the baseline the target is set against).
Before the warm runs, two unmeasured ones at concurrency 8 fill in what the cold runs left
undone (papers read or summarised past a deadline). Requests/s, p50 and p99 each;
``warm_over_plain_p50``: warm evidence latency over warm latency without evidence (target: at
most 1.5). The stand-in keeps no politeness interval; against arXiv (3 s a request) a cold
paper costs at least 3 s of gate time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from arm_dev.harness import arxiv_standin, log
from bench.data.corpus import benchmark_records, make_queries
from bench.load.driver import MAX_PAPERS, Graph, Run, run_graph

LEVELS = (8, 32)
FILL_CONCURRENCY = 8
EVIDENCE = {"include_evidence": True, "evidence_per_paper": 3}


def _figures(run: Run) -> dict[str, Any]:
    return {"rps": run.rps, "p50_ms": run.p50_ms, "p99_ms": run.p99_ms, "errors": run.errors}


async def benchmark_evidence(
    config: Path, requests: int, levels: tuple[int, ...] = LEVELS
) -> dict[str, Any]:
    """Cold, warm and warm-without-evidence runs at each concurrency; the JSON figures."""
    records, corpus_name = benchmark_records()
    queries = make_queries(records, requests, min_hits=2 * MAX_PAPERS)[:requests]
    log(f"corpus: {corpus_name}, {len(records)} records; {len(queries)} distinct queries")
    figures: dict[str, Any] = {"corpus": corpus_name, "queries": len(queries)}
    with (
        arxiv_standin(records) as arxiv,
        tempfile.TemporaryDirectory(prefix="bench-evidence-") as tmp,
    ):
        graph = Graph(config)
        try:
            for c in levels:
                await graph.deploy(
                    arxiv_api_url=arxiv.url,
                    arxiv_min_interval_s=0.0,
                    arxiv_source="api",
                    qdrant_path=f"{tmp}/qdrant-c{c}",
                    outbox_path=f"{tmp}/outbox-c{c}.sqlite",
                    fulltext_cache_path=f"{tmp}/fulltext-c{c}",
                )
                first = await run_graph(graph, "plain_first", queries, c)
                cold = await run_graph(graph, "cold", queries, c, EVIDENCE)
                # The cold runs pass the evidence deadline for some papers (read on in the
                # background) and, at 32 on a small machine, the request deadline: fill in what
                # they left undone first, so that warm means warm.
                await run_graph(graph, "fill", queries, FILL_CONCURRENCY)
                await run_graph(graph, "fill", queries, FILL_CONCURRENCY, EVIDENCE)
                warm = await run_graph(graph, "warm", queries, c, EVIDENCE)
                plain = await run_graph(graph, "warm_plain", queries, c)
                for run in (first, cold, warm, plain):
                    figures[f"{run.scenario}_c{c}"] = _figures(run)
                ratio = warm.p50_ms / plain.p50_ms if plain.p50_ms else None
                figures[f"warm_over_plain_p50_c{c}"] = round(ratio, 2) if ratio else None
        finally:
            graph.close()
    return figures
