"""Load benchmark: the graph against the seed design and the model's own limit, in one run.

    python -m bench.load [--config serve_config.yaml] [--out bench/out] [--quick] [--sources]

(``--sources``: the arXiv API source against the local index instead; ``bench.load.sources``.)

It starts the local arXiv stand-in over real records (``../shared/arxiv/corpus`` when present,
else a generated corpus) with no politeness interval, measures the raw MiniLM limit, starts the
graph from ``serve_config.yaml`` (its args and per-stage options, with the stand-ins' URLs), and
drives ``POST /execute`` with fixed sets of distinct queries at concurrency 1, 8 and 32:

    cold       empty memory, distinct queries, extractive summaries (CPU-bound)
    warm       the same queries again (memory reuse)
    llm-bound  summaries from an OpenAI-compatible stand-in taking 500 ms per call

The seed design (``bench.baseline.seed_arm``) is driven the same way against the same
stand-ins. Output: a table per scenario, per-stage throughput from Ray's metrics endpoint, the
embedder's utilisation, errors, resident memory; ``load.md`` and ``load.png`` in ``--out``; and,
as the last line, one JSON object with every figure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from arm_dev.harness import ROOT, arxiv_standin, free_port, log
from arm_dev.openai_standin import OpenAIStandIn
from bench.data.corpus import benchmark_records, make_queries
from bench.load.driver import MAX_PAPERS, Graph, Run, drive, run_graph
from bench.load.report import table, write_report
from deployments.summarizer.text import split_sentences

# --------------------------------------------------------------------------------------------
# The model's limit
# --------------------------------------------------------------------------------------------


def raw_limit(records: list[Any]) -> dict[str, dict[str, float]]:
    """Best texts/s of plain SentenceTransformer.encode per kind of text the graph embeds."""
    from sentence_transformers import SentenceTransformer

    from deployments.common.packaged_model import packaged_model_path

    model = SentenceTransformer(packaged_model_path(), device="cpu")
    sample = records[:160]
    kinds = {
        "paper": [f"{r.title}. {r.abstract}" for r in sample],
        "sentence": [s for r in sample[:60] for s in split_sentences(r.abstract)][:320],
        "query": [r.title.split(" ")[0] + " " + r.title.split(" ")[-1] for r in sample],
    }
    model.encode(kinds["sentence"][:32])  # warm up
    out = {}
    for kind, texts in kinds.items():
        best = (0.0, 0)
        for batch in (1, 4, 8, 16, 32):
            started = time.perf_counter()
            model.encode(texts, batch_size=batch, normalize_embeddings=True)
            rate = len(texts) / (time.perf_counter() - started)
            best = max(best, (rate, batch))
        out[kind] = {"texts_per_s": round(best[0], 1), "batch_size": best[1]}
        log(f"  raw limit {kind}: {best[0]:.1f} texts/s at batch {best[1]}")
    return out


def texts_needed(records: list[Any], queries: list[str], run: Run) -> list[str]:
    """Every distinct text the graph had to embed for a cold run: each query, each candidate
    paper arXiv returned (title + abstract), each sentence of each paper it summarised."""
    from arm_dev.arxiv import evaluate
    from deployments.arxiv.query import build_search_query

    texts = dict.fromkeys(queries)
    for query in queries:
        for record in evaluate(build_search_query(query), records)[: 2 * MAX_PAPERS]:
            texts[f"{record.title}. {record.abstract}"] = None
    for abstract in run.summarised.values():
        texts.update(dict.fromkeys(split_sentences(abstract)))
    return list(texts)


def replay_seconds(texts: list[str], batch_size: int) -> float:
    """Seconds plain SentenceTransformer.encode takes for ``texts`` on an idle machine."""
    from sentence_transformers import SentenceTransformer

    from deployments.common.packaged_model import packaged_model_path

    model = SentenceTransformer(packaged_model_path(), device="cpu")
    model.encode(texts[:16], batch_size=batch_size)
    started = time.perf_counter()
    model.encode(texts, batch_size=batch_size, normalize_embeddings=True)
    return time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# The seed design
# --------------------------------------------------------------------------------------------


class Seed:
    """bench.baseline.seed_arm in its own process."""

    def __init__(self, arxiv_url: str, backend: str, openai_url: str | None) -> None:
        self.port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "bench.baseline.seed_arm",
            "--port",
            str(self.port),
            "--arxiv-url",
            arxiv_url,
            "--backend",
            backend,
        ]
        if openai_url:
            cmd += ["--openai-url", openai_url]
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.5)
        self.close()
        raise SystemExit("the seed reference did not start")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def run_seed(seed: Seed, scenario: str, queries: list[str], c: int) -> Run:
    run = await drive(seed.url, queries, c, scenario, "seed")
    log(
        f"  seed  {scenario:9s} c={c:2d}: {run.rps:7.2f} req/s  p50 {run.p50_ms:8.1f} ms  "
        f"p95 {run.p95_ms:8.1f} ms  errors {run.errors}"
    )
    return run


# --------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------


async def benchmark(config: Path, out: Path, levels: dict[int, int]) -> dict[str, Any]:
    records, corpus = benchmark_records()
    per_set = sum(levels.values())
    queries = make_queries(records, 2 * per_set, min_hits=2 * MAX_PAPERS)
    sets: dict[str, dict[int, list[str]]] = {"cold": {}, "llm-bound": {}}
    offset = 0
    for name in sets:
        for c, n in levels.items():
            sets[name][c] = queries[offset : offset + n]
            offset += n
    log(f"corpus: {corpus}, {len(records)} records; {len(queries)} distinct queries")
    runs: list[Run] = []
    figures: dict[str, Any] = {"corpus": corpus}
    with (
        arxiv_standin(records) as arxiv,
        OpenAIStandIn(latency_s=0.5) as llm,
        tempfile.TemporaryDirectory(prefix="bench-qdrant-") as tmp,
    ):
        log("raw MiniLM limit (plain SentenceTransformer.encode, best batch size):")
        limit = raw_limit(records)
        figures["raw_limit"] = limit

        log("graph (serve_config.yaml):")
        graph = Graph(config)
        try:
            # The API source, whatever ./data/index holds: this benchmark is about the graph.
            base = {"arxiv_api_url": arxiv.url, "arxiv_min_interval_s": 0.0, "arxiv_source": "api"}
            for c in levels:
                await graph.deploy(
                    **base, qdrant_path=f"{tmp}/cold{c}", outbox_path=f"{tmp}/cold{c}.outbox"
                )
                if c == min(levels):
                    figures["rss_start_mb"] = graph.rss_mb()
                cold = await run_graph(graph, "cold", sets["cold"][c], c)
                runs.append(cold)
                if c == max(levels):
                    needed = texts_needed(records, sets["cold"][c], cold)
                    figures["embedder_texts_needed"] = len(needed)
                    figures["embedder_texts_encoded"] = await graph.embedded_texts()
                warm = await run_graph(graph, "warm", sets["cold"][c], c)
                runs.append(warm)
                if c == max(levels):
                    rss_a = graph.rss_mb()
                    again = await run_graph(graph, "warm", sets["cold"][c], c)
                    rss_b = graph.rss_mb()
                    figures["rss_growth_mb"] = round(rss_b - rss_a, 1)
                    figures["rss_end_mb"] = rss_b
                    figures["warm_repeat_rps"] = again.rps
            for c in levels:
                await graph.deploy(
                    **base,
                    qdrant_path=f"{tmp}/llm{c}",
                    outbox_path=f"{tmp}/llm{c}.outbox",
                    summarizer_backend="openai",
                    openai_base_url=llm.base_url,
                    summarizer_model="standin",
                )
                runs.append(await run_graph(graph, "llm-bound", sets["llm-bound"][c], c))
        finally:
            graph.close()
        # Utilisation: what plain encode() needs for exactly those texts, idle machine, best
        # batch size, over the wall time the graph took for the whole cold run.
        cold_top = next(r for r in runs if r.scenario == "cold" and r.concurrency == max(levels))
        best_batch = max(limit["paper"]["batch_size"], 1)
        raw_s = replay_seconds(needed, int(best_batch))
        figures["embedder_raw_seconds"] = round(raw_s, 2)
        figures["embedder_utilization"] = round(raw_s / cold_top.wall_s, 3)
        log(
            f"  embedder: {len(needed)} texts need {raw_s:.1f}s of plain encode(); the graph's "
            f"cold c={max(levels)} run took {cold_top.wall_s:.1f}s"
        )

        log("seed design (bench.baseline.seed_arm):")
        seed = Seed(arxiv.url, "extractive", None)
        try:
            for c in levels:
                runs.append(await run_seed(seed, "cold", sets["cold"][c], c))
                runs.append(await run_seed(seed, "warm", sets["cold"][c], c))
        finally:
            seed.close()
        seed = Seed(arxiv.url, "openai", llm.base_url)
        try:
            for c in levels:
                runs.append(await run_seed(seed, "llm-bound", sets["llm-bound"][c], c))
        finally:
            seed.close()

    by = {(r.scenario, r.system, r.concurrency): r for r in runs}
    top, mid, low = max(levels), sorted(levels)[1], min(levels)

    def ratio(scenario: str, c: int) -> float:
        g, s = by[(scenario, "graph", c)], by[(scenario, "seed", c)]
        return round(g.rps / s.rps, 3) if s.rps else 0.0

    figures.update(
        {
            "cold_c32_speedup": ratio("cold", top),
            "warm_c32_speedup": ratio("warm", top),
            "llm_c1_latency_ratio": round(
                by[("llm-bound", "graph", low)].p50_ms / by[("llm-bound", "seed", low)].p50_ms, 3
            ),
            "c32_over_c8": round(
                min(
                    by[(s, "graph", top)].rps / by[(s, "graph", mid)].rps
                    for s in ("cold", "warm", "llm-bound")
                ),
                3,
            ),
            "errors": sum(r.errors for r in runs),
            "stage_items_per_s_cold_c32": by[("cold", "graph", top)].stage_items_per_s,
        }
    )
    report = table(runs)
    write_report(out, report, figures, runs)
    print(report)
    print(f"\nper-stage items/s, cold c={top}: {figures['stage_items_per_s_cold_c32']}")
    return figures
