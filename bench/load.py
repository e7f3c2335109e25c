"""Load benchmark: the graph against the seed design and the model's own limit, in one run.

    python -m bench.load [--config serve_config.yaml] [--out bench/out] [--quick] [--sources]

(``--sources``: the arXiv API source against the local index instead; ``bench.load_sources``.)

It starts the local arXiv stand-in over real records (``../shared/arxiv/corpus`` when present,
else a generated corpus) with no politeness interval, measures the raw MiniLM limit, starts the
graph from ``serve_config.yaml`` (its args and per-stage options, with the stand-ins' URLs), and
drives ``POST /execute`` with fixed sets of distinct queries at concurrency 1, 8 and 32:

    cold       empty memory, distinct queries, extractive summaries (CPU-bound)
    warm       the same queries again (memory reuse)
    llm-bound  summaries from an OpenAI-compatible stand-in taking 500 ms per call

The seed design (``bench.seed_arm``) is driven the same way against the same stand-ins. Output:
a table per scenario, per-stage throughput from Ray's metrics endpoint, the embedder's
utilisation, errors, resident memory; ``load.md`` and ``load.png`` in ``--out``; and, as the
last line, one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import yaml

from arm_dev.arxiv import StandIn
from arm_dev.openai_standin import OpenAIStandIn
from bench.corpus import benchmark_records, make_queries
from deployments.summarizer.text import split_sentences

ROOT = Path(__file__).resolve().parents[1]
LEVELS = {1: 6, 8: 24, 32: 64}  # concurrency -> requests per run
QUICK_LEVELS = {1: 3, 8: 8, 32: 32}
MAX_PAPERS = 5
STAGES = ("ingress", "arxiv", "embedder", "summarizer", "memory")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Run:
    """One scenario at one concurrency against one system."""

    scenario: str
    system: str
    concurrency: int
    requests: int
    errors: int
    wall_s: float
    rps: float
    p50_ms: float
    p95_ms: float
    embedded_papers: int = 0
    stage_items_per_s: dict[str, float] = field(default_factory=dict)
    # arxiv_id -> abstract of every paper returned (and so summarised): for the utilisation replay
    summarised: dict[str, str] = field(default_factory=dict, repr=False)


async def drive(url: str, queries: list[str], concurrency: int, scenario: str, system: str) -> Run:
    """POST each query once, ``concurrency`` in flight; latencies of successful requests."""
    latencies: list[float] = []
    errors = 0
    embedded = 0
    summarised: dict[str, str] = {}
    pending = list(queries)
    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors, embedded
            while pending:
                query = pending.pop(0)
                started = time.perf_counter()
                try:
                    response = await client.post(
                        f"{url}/execute", json={"query": query, "max_papers": MAX_PAPERS}
                    )
                except httpx.HTTPError:
                    errors += 1
                    continue
                if response.status_code != 200:
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                body = response.json()
                embedded += int(body.get("provenance", {}).get("cache", {}).get("embedded", 0))
                for paper in body.get("papers", []):
                    summarised[paper["arxiv_id"]] = paper["abstract"]

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - began
    ok = len(latencies)
    return Run(
        scenario,
        system,
        concurrency,
        len(queries),
        errors,
        round(wall, 2),
        round(ok / wall, 3),
        round(float(np.percentile(latencies, 50)), 1) if ok else 0.0,
        round(float(np.percentile(latencies, 95)), 1) if ok else 0.0,
        embedded,
        summarised=summarised,
    )


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
# The graph
# --------------------------------------------------------------------------------------------


class Graph:
    """The graph of serve_config.yaml on a local Ray, with its metrics endpoint."""

    def __init__(self, config_path: Path) -> None:
        import ray
        from ray import serve

        config = yaml.safe_load(config_path.read_text())
        app = config["applications"][0]
        self.app_name = app["name"]
        self.args = dict(app.get("args") or {})
        self.options = {
            d["name"]: {k: v for k, v in d.items() if k != "name"}
            for d in app.get("deployments", [])
        }
        self.metrics_port = free_port()
        self.http_port = free_port()
        ray.init(
            _metrics_export_port=self.metrics_port,
            include_dashboard=False,
            _system_config={"metrics_report_interval_ms": 1000},
            runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1"}},
        )
        serve.start(http_options={"host": "127.0.0.1", "port": self.http_port})
        self.url = f"http://127.0.0.1:{self.http_port}"

    async def deploy(self, **overrides: Any) -> None:
        """(Re)deploy with args overridden; serve.run blocks, so it runs off the event loop."""
        await asyncio.to_thread(self._deploy, overrides)

    def _deploy(self, overrides: dict[str, Any]) -> None:
        from ray import serve

        from graph import build_app

        app = build_app({**self.args, **overrides}, options=self.options)
        serve.run(app, name=self.app_name, route_prefix="/")

    def handle(self, deployment: str) -> Any:
        from ray import serve

        return serve.get_deployment_handle(deployment, app_name=self.app_name)

    async def embedded_texts(self) -> int:
        """Texts the Embedder actually encoded (its cache answers the rest)."""
        return int((await self.handle("Embedder").info.remote())["texts_total"])

    def stage_items(self) -> dict[str, float]:
        """ray_arm_stage_items_total per stage, summed over replicas, from Ray's endpoint."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).text
        except httpx.HTTPError:
            return {}
        totals: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("ray_arm_stage_items_total{"):
                stage = re.search(r'stage="([^"]+)"', line)
                if stage:
                    totals[stage.group(1)] = totals.get(stage.group(1), 0.0) + float(
                        line.split()[-1]
                    )
        return totals

    def rss_mb(self) -> float:
        total = 0
        for proc in psutil.process_iter(["cmdline"]):
            try:
                cmd = " ".join(proc.info["cmdline"] or [])
                if f"ServeReplica:{self.app_name}" in cmd:
                    total += proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return round(total / 2**20, 1)

    def close(self) -> None:
        import ray
        from ray import serve

        serve.shutdown()
        ray.shutdown()


async def run_graph(graph: Graph, scenario: str, queries: list[str], c: int) -> Run:
    before = graph.stage_items()
    run = await drive(graph.url, queries, c, scenario, "graph")
    await asyncio.sleep(2.5)  # metrics are reported every second
    after = graph.stage_items()
    run.stage_items_per_s = {
        s: round((after.get(s, 0) - before.get(s, 0)) / run.wall_s, 2) for s in STAGES if s in after
    }
    log(
        f"  graph {scenario:9s} c={c:2d}: {run.rps:7.2f} req/s  p50 {run.p50_ms:8.1f} ms  "
        f"p95 {run.p95_ms:8.1f} ms  errors {run.errors}  stages {run.stage_items_per_s}"
    )
    return run


# --------------------------------------------------------------------------------------------
# The seed design
# --------------------------------------------------------------------------------------------


class Seed:
    """bench.seed_arm in its own process."""

    def __init__(self, arxiv_url: str, backend: str, openai_url: str | None) -> None:
        self.port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "bench.seed_arm",
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
# Report
# --------------------------------------------------------------------------------------------


def table(runs: list[Run]) -> str:
    by = {(r.scenario, r.system, r.concurrency): r for r in runs}
    lines = [
        "| scenario | c | graph req/s | graph p50 ms | graph p95 ms | seed req/s | "
        "seed p50 ms | seed p95 ms | speed-up |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario in ("cold", "warm", "llm-bound"):
        for c in sorted({r.concurrency for r in runs}):
            g, s = by.get((scenario, "graph", c)), by.get((scenario, "seed", c))
            if not g or not s:
                continue
            speedup = g.rps / s.rps if s.rps else float("inf")
            lines.append(
                f"| {scenario} | {c} | {g.rps:.2f} | {g.p50_ms:.0f} | {g.p95_ms:.0f} | "
                f"{s.rps:.2f} | {s.p50_ms:.0f} | {s.p95_ms:.0f} | {speedup:.2f}x |"
            )
    return "\n".join(lines)


def plot(runs: list[Run], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, scenario in zip(axes, ("cold", "warm", "llm-bound"), strict=True):
        for system, style in (("graph", "o-"), ("seed", "s--")):
            points = sorted(
                (r.concurrency, r.rps)
                for r in runs
                if r.scenario == scenario and r.system == system
            )
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], style, label=system)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks([1, 8, 32], labels=["1", "8", "32"])
        ax.set_title(scenario)
        ax.set_xlabel("concurrent requests")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("requests / s")
    axes[0].legend()
    fig.suptitle("research arm: Ray Serve graph vs the seed design (2-core CPU)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_report(out: Path, report: str, figures: dict[str, Any], runs: list[Run]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.md").write_text(
        f"# Load benchmark\n\n{report}\n\nFigures: `{json.dumps(figures)}`\n"
    )
    (out / "runs.json").write_text(json.dumps([asdict(r) for r in runs], indent=1))
    plot(runs, out / "load.png")


# --------------------------------------------------------------------------------------------
# Main
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
        StandIn(records) as arxiv,
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

        log("seed design (bench.seed_arm):")
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Graph vs seed design vs raw model limit")
    parser.add_argument("--config", type=Path, default=ROOT / "serve_config.yaml")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--quick", action="store_true", help="fewer requests per run")
    parser.add_argument(
        "--sources",
        action="store_true",
        help="instead: the arXiv API source against the local index (bench.load_sources)",
    )
    args = parser.parse_args(argv)
    if args.sources:
        from bench.load_sources import benchmark_sources

        requests = QUICK_LEVELS[32] if args.quick else LEVELS[32]
        print(json.dumps(asyncio.run(benchmark_sources(args.config, requests))))
        return
    figures = asyncio.run(benchmark(args.config, args.out, QUICK_LEVELS if args.quick else LEVELS))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
