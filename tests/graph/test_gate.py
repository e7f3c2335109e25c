"""Two ArxivFetcher replicas under load never send arXiv two requests less than the interval
apart, nor two at once: the gate is one actor for the whole cluster."""

from __future__ import annotations

import asyncio
import itertools

from arm_dev.arxiv_standin import SAMPLE_CORPUS, StandIn, load_records

INTERVAL_S = 0.4


def test_two_fetcher_replicas_share_one_gate(serve_url: str) -> None:
    from ray import serve

    from deployments.arxiv_fetcher import ArxivFetcher

    queries = [
        "attention",
        "graph",
        "quantum",
        "galaxy",
        "retrieval",
        "exoplanet",
        "decoder",
        "transformer",
    ]
    with StandIn(load_records([SAMPLE_CORPUS]), latency_s=0.05) as arxiv:
        settings = {"arxiv_api_url": arxiv.url, "arxiv_min_interval_s": INTERVAL_S}
        app = ArxivFetcher.options(
            num_replicas=2, ray_actor_options={"num_cpus": 0.05}, max_ongoing_requests=16
        ).bind(settings)
        handle = serve.run(app, name="gate", route_prefix=None)
        status = serve.status().applications["gate"].deployments["ArxivFetcher"]
        assert status.replica_states.get("RUNNING") == 2

        async def load() -> list:
            return await asyncio.gather(*(handle.search.remote(q, None, None, 5) for q in queries))

        results = asyncio.run(load())
        log = sorted(arxiv.requests(), key=lambda r: r["t_start"])
    serve.delete("gate")

    assert len(log) == len(queries) and all(r.total_found >= 1 for r in results)
    for before, after in itertools.pairwise(log):
        assert after["t_start"] >= before["t_end"], "two requests were in flight at once"
        assert after["t_start"] - before["t_end"] >= INTERVAL_S - 0.01
