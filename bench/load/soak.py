"""Soak: mixed cold and warm load on the real graph with a replica killed every two minutes.

    python -m bench.load.soak [--minutes 10] [--concurrency 32] [--kill-every-s 120]

The graph (``graph.build_app``, extractive summaries) runs against the local arXiv stand-in over
the shared corpus (a generated one without ``../shared``), with no politeness interval. Callers
send ``/execute`` at a fixed concurrency, half of them new queries (cold: search, embed,
summarise, store), half repeats (warm: memory). Every ``--kill-every-s`` one replica process of
the Embedder, the Summarizer or the MemoryWriter, in turn, is SIGKILLed. Every 15 s the resident
memory of the graph's replicas is summed. At the end it waits for the Ingress's outbox to drain
and checks that every paper of every answered request is in memory with its query.

Reports: requests by status and kind, latency percentiles, each kill and how long the stage
took to come back, memory at start / peak / end, lost writes. Exits 1 on a lost write, an
answer other than 200 or 503, one past the deadline, or memory grown by half. Last line: one
JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
import numpy as np
import psutil

from arm_dev.faults import kill_replica, missing_from_memory, wait_until_back
from arm_dev.harness import arxiv_standin, deploy_graph, graph_args, log, serve_started
from bench.data.corpus import benchmark_records, make_queries

APP = "soak"
VICTIMS = ("Embedder", "Summarizer", "MemoryWriter")
MAX_PAPERS = 5
DEADLINE_S = 60.0  # the Ingress's request_deadline_s (its default)


@dataclass
class Kill:
    at_s: float
    deployment: str
    back_s: float


@dataclass
class Soak:
    minutes: float
    concurrency: int
    answers: list[dict[str, Any]] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    rss_mb: list[tuple[float, float]] = field(default_factory=list)
    lost_writes: int = -1

    def failures(self) -> list[str]:
        """What the soak must not show: a lost write, an answer that is not 200 or a 503 in
        the arm's shape, an answer past the deadline, memory that keeps growing."""
        found = []
        if self.lost_writes:
            found.append(f"{self.lost_writes} papers of answered requests not in memory")
        bad = [a for a in self.answers if a["status"] not in (200, 503)]
        if bad:
            found.append(f"{len(bad)} answers neither 200 nor 503, e.g. {bad[0]}")
        slow = [a for a in self.answers if a["s"] > DEADLINE_S + 30]
        if slow:
            found.append(f"{len(slow)} answers after the {DEADLINE_S:g} s deadline + 30 s")
        rss = [mb for _, mb in self.rss_mb]
        if rss and rss[-1] > 1.5 * rss[0]:
            found.append(f"memory grew from {rss[0]} MB to {rss[-1]} MB")
        return found

    def summary(self) -> dict[str, Any]:
        latencies = np.array([a["s"] for a in self.answers]) if self.answers else np.zeros(1)
        statuses = Counter(f"{a['kind']} {a['status']}" for a in self.answers)
        rss = [mb for _, mb in self.rss_mb] or [0.0]
        return {
            "minutes": self.minutes,
            "concurrency": self.concurrency,
            "requests": len(self.answers),
            "by_kind_and_status": dict(sorted(statuses.items())),
            "served_per_s": round(
                sum(a["status"] == 200 for a in self.answers) / (self.minutes * 60), 2
            ),
            "p50_s": round(float(np.percentile(latencies, 50)), 2),
            "p95_s": round(float(np.percentile(latencies, 95)), 2),
            "max_s": round(float(latencies.max()), 2),
            "kills": [asdict(k) for k in self.kills],
            "rss_mb": {"start": rss[0], "peak": max(rss), "end": rss[-1]},
            "memory_pending_answers": sum(
                bool(a.get("pending")) for a in self.answers if a["status"] == 200
            ),
            "lost_writes": self.lost_writes,
        }


def cold_queries(seeds: list[str], count: int = 20_000) -> list[str]:
    """``seeds`` (queries that find papers), then three of their words at a time: new to the
    arm each time, so a cold request stays cold for the whole run (arXiv's AND finds few for
    those; the fetcher's OR fallback fills the candidates)."""
    words = sorted({w for q in seeds for w in q.split()})
    rng = random.Random(11)
    more = {" ".join(rng.sample(words, 3)) for _ in range(count)}
    return seeds + sorted(more - set(seeds))


def graph_rss_mb() -> float:
    """Resident memory of the soak application's replica processes, in MB."""
    total = 0
    for process in psutil.process_iter(["cmdline", "memory_info"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if cmdline.startswith(f"ray::ServeReplica:{APP}:") and process.info["memory_info"]:
            total += process.info["memory_info"].rss
    return round(total / 2**20, 1)


async def run_load(url: str, soak: Soak, queries: list[str], seconds: float) -> None:
    """``concurrency`` callers for ``seconds``: half new queries, half repeats of answered ones."""
    fresh = iter(queries)
    answered: list[str] = []
    began = time.monotonic()

    async def caller(client: httpx.AsyncClient, rng: random.Random) -> None:
        while time.monotonic() - began < seconds:
            warm = bool(answered) and rng.random() < 0.5
            query = rng.choice(answered) if warm else next(fresh, None)
            if query is None:  # every new query used: repeats only (not in a 10-minute run)
                query, warm = rng.choice(answered), True
            started = time.monotonic()
            try:
                response = await client.post(
                    "/execute", json={"query": query, "max_papers": MAX_PAPERS}
                )
                status, body = response.status_code, response.json()
            except httpx.HTTPError as exc:
                status, body = 0, {"error": repr(exc)}
            answer: dict[str, Any] = {
                "kind": "warm" if warm else "cold",
                "query": query,
                "status": status,
                "s": time.monotonic() - started,
            }
            if status == 200:
                answer["ids"] = [p["arxiv_id"] for p in body["papers"]]
                answer["pending"] = body["provenance"]["cache"].get("memory_pending", 0)
                if not warm:
                    answered.append(query)
            else:
                answer["error"] = body.get("error")
            soak.answers.append(answer)

    limits = httpx.Limits(max_connections=soak.concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        await asyncio.gather(*(caller(client, random.Random(i)) for i in range(soak.concurrency)))


async def kill_and_sample(soak: Soak, kill_every_s: float, seconds: float) -> None:
    """A replica killed every ``kill_every_s`` in turn; memory sampled every 15 s."""
    began = time.monotonic()
    next_kill, victim = kill_every_s, 0
    while (elapsed := time.monotonic() - began) < seconds:
        # Off the event loop the callers share: these block (psutil, Ray's actor table).
        soak.rss_mb.append((round(elapsed, 1), await asyncio.to_thread(graph_rss_mb)))
        if elapsed >= next_kill:
            deployment = VICTIMS[victim % len(VICTIMS)]
            pid = await asyncio.to_thread(kill_replica, APP, deployment)
            back = await asyncio.to_thread(wait_until_back, APP, deployment, pid)
            soak.kills.append(Kill(round(elapsed, 1), deployment, round(back, 1)))
            log(f"{elapsed:6.0f} s: killed {deployment} (pid {pid}); back in {back:.1f} s")
            next_kill += kill_every_s
            victim += 1
        await asyncio.sleep(15 if next_kill - elapsed > 15 else max(0.1, next_kill - elapsed))
    soak.rss_mb.append((round(time.monotonic() - began, 1), await asyncio.to_thread(graph_rss_mb)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--kill-every-s", type=float, default=120.0)
    args = parser.parse_args(argv)

    from ray import serve

    soak = Soak(args.minutes, args.concurrency)
    records, _ = benchmark_records()
    queries = cold_queries(make_queries(records, 300, min_hits=MAX_PAPERS))
    seconds = args.minutes * 60
    with (
        arxiv_standin(records) as arxiv,
        tempfile.TemporaryDirectory() as data,
        # Without the proxy's error callback, as this soak always ran (`make run` sets it).
        serve_started(
            proxy_errors=False, num_cpus=8, include_dashboard=False, namespace="bench-soak"
        ) as cluster,
    ):
        deploy_graph(
            APP,
            graph_args(arxiv.url, data, arxiv_source="api"),
            options={"Embedder": {"ray_actor_options": {"num_cpus": 1}}},
        )
        url = f"{cluster.url}/{APP}"
        log(
            f"soak: {args.minutes:g} min at concurrency {args.concurrency}, a kill every "
            f"{args.kill_every_s:g} s ({', '.join(VICTIMS)} in turn)"
        )

        async def both() -> None:
            await asyncio.gather(
                run_load(url, soak, queries, seconds),
                kill_and_sample(soak, args.kill_every_s, seconds),
            )

        asyncio.run(both())
        answered = [(a["query"], a["ids"]) for a in soak.answers if a["status"] == 200]
        memory = serve.get_deployment_handle("MemoryWriter", app_name=APP)
        deadline = time.monotonic() + 180
        while True:  # the outbox hands its writes over on its own
            missing, _ = missing_from_memory(memory, answered)
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(2)
        soak.lost_writes = len(missing)
    summary = soak.summary()
    for key, value in summary.items():
        log(f"{key:>24}: {value}")
    print(json.dumps(summary))
    failures = soak.failures()
    for failure in failures:
        log(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
