"""The ArxivGate deployment: two ArxivFetcher replicas under load never send arXiv two requests
less than the interval apart, nor two at once; the gate lives and dies with its application and
takes a new interval on redeploy."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from arm_dev.arxiv import SAMPLE_CORPUS, StandIn, load_records
from models.contracts import SearchRequest
from models.settings import Settings

QUERIES = ["attention", "graph", "quantum", "galaxy", "retrieval", "exoplanet"]


def _gate_app(api_url: str, interval_s: float) -> Any:
    from deployments.arxiv.fetcher_deployment import ArxivFetcher
    from deployments.arxiv.gate_deployment import ArxivGate

    # The API source: two fetcher replicas, and no local index for them to share.
    stages = Settings(
        arxiv_api_url=api_url, arxiv_min_interval_s=interval_s, arxiv_source="api"
    ).for_stages()
    gate = ArxivGate.options(ray_actor_options={"num_cpus": 0}).bind(stages.gate)
    return ArxivFetcher.options(
        num_replicas=2, ray_actor_options={"num_cpus": 0.05}, max_ongoing_requests=16
    ).bind(stages.arxiv, gate)


def _searches(handle: Any, queries: list[str]) -> list[Any]:
    async def load() -> list[Any]:
        return await asyncio.gather(
            *(handle.search.remote(SearchRequest(q, max_results=5)) for q in queries)
        )

    return asyncio.run(load())


def _gaps(arxiv: StandIn) -> list[float]:
    log = sorted(arxiv.requests(), key=lambda r: r["t_start"])
    for before, after in itertools.pairwise(log):
        assert after["t_start"] >= before["t_end"], "two requests were in flight at once"
    return [after["t_start"] - before["t_end"] for before, after in itertools.pairwise(log)]


def _app_actors(app: str) -> list[str]:
    import ray

    return [
        a["name"]
        for a in ray.util.list_named_actors(all_namespaces=True)
        # Serve names replicas SERVE_REPLICA::<app>#<deployment>#<id>; the old detached gate
        # was a named actor "arxiv_gate:<host>" that outlived every application.
        if f"::{app}#" in a["name"] or a["name"].startswith("arxiv_gate")
    ]


def test_two_fetcher_replicas_share_one_gate_that_follows_the_app(serve_url: str) -> None:
    from ray import serve

    with StandIn(load_records([SAMPLE_CORPUS]), latency_s=0.05) as arxiv:
        handle = serve.run(_gate_app(arxiv.url, 0.4), name="gate", route_prefix=None)
        status = serve.status().applications["gate"].deployments
        assert status["ArxivFetcher"].replica_states.get("RUNNING") == 2
        assert status["ArxivGate"].replica_states.get("RUNNING") == 1  # visible in serve status

        results = _searches(handle, QUERIES)
        assert all(r.total_found >= 1 for r in results)
        gaps = _gaps(arxiv)
        assert len(gaps) == len(QUERIES) - 1 and min(gaps) >= 0.4 - 0.01

        # Redeployed with a longer interval: the new gate keeps requests that far apart.
        handle = serve.run(_gate_app(arxiv.url, 1.0), name="gate", route_prefix=None)
        arxiv.reset()
        _searches(handle, ["decoder", "transformer", "photon"])
        assert min(_gaps(arxiv)) >= 1.0 - 0.01

    assert _app_actors("gate")
    serve.delete("gate")
    assert _app_actors("gate") == []  # no gate (or any replica) outlives its application
