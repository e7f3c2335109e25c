"""What every load run of ``bench.load`` shares: the graph of ``serve_config.yaml`` on the
stand-ins (started by ``arm_dev.harness``) with its metrics, and the driver that sends
``POST /execute`` at a fixed concurrency and measures each run."""

from __future__ import annotations

import asyncio
import re
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from arm_dev.harness import ConfigApp, free_port, log, serve_started

LEVELS = {1: 6, 8: 24, 32: 64}  # concurrency -> requests per run
QUICK_LEVELS = {1: 3, 8: 8, 32: 32}
MAX_PAPERS = 5
STAGES = ("ingress", "arxiv", "embedder", "summarizer", "memory", "reader")


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
    p99_ms: float = 0.0
    stage_items_per_s: dict[str, float] = field(default_factory=dict)
    # arxiv_id -> abstract of every paper returned (and so summarised): for the utilisation replay
    summarised: dict[str, str] = field(default_factory=dict, repr=False)


async def drive(
    url: str,
    queries: list[str],
    concurrency: int,
    scenario: str,
    system: str,
    extra: dict[str, Any] | None = None,
) -> Run:
    """POST each query once, ``concurrency`` in flight; latencies of successful requests.
    ``extra``: more fields of each request (``include_evidence``)."""
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
                        f"{url}/execute",
                        json={"query": query, "max_papers": MAX_PAPERS, **(extra or {})},
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
        round(float(np.percentile(latencies, 99)), 1) if ok else 0.0,
        summarised=summarised,
    )


class Graph:
    """The graph of serve_config.yaml on a local Ray, with its metrics endpoint."""

    def __init__(self, config_path: Path) -> None:
        self.config = ConfigApp.read(config_path)
        self.app_name = self.config.name
        self.metrics_port = free_port()
        # Without the proxy's error callback, as this benchmark always ran (`make run` sets it).
        self._stack = ExitStack()
        cluster = serve_started(
            proxy_errors=False,
            port=free_port(),
            _metrics_export_port=self.metrics_port,
            include_dashboard=False,
            _system_config={"metrics_report_interval_ms": 1000},
            runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1"}},
        )
        self.url = self._stack.enter_context(cluster).url

    async def deploy(self, **overrides: Any) -> None:
        """(Re)deploy with args overridden; serve.run blocks, so it runs off the event loop."""
        await asyncio.to_thread(self.config.deploy, **overrides)

    def handle(self, deployment: str) -> Any:
        from ray import serve

        return serve.get_deployment_handle(deployment, app_name=self.app_name)

    async def embedded_texts(self) -> int:
        """Texts the Embedder actually encoded (its cache answers the rest)."""
        return int((await self.handle("Embedder").info.remote()).texts_total)

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
        self._stack.close()


async def run_graph(
    graph: Graph, scenario: str, queries: list[str], c: int, extra: dict[str, Any] | None = None
) -> Run:
    before = graph.stage_items()
    run = await drive(graph.url, queries, c, scenario, "graph", extra)
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
