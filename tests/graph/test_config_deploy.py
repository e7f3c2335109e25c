"""The graph deployed from a config, as `serve run serve_config.yaml` and KubeRay deploy it:
one stage's settings change that stage alone, live, and the arm's log lines reach Serve's JSON
log files with the request id, deployment and replica."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from arm_dev.arxiv import SAMPLE_CORPUS, StandIn, load_records
from tests.graph.conftest import SESSION, TEST_OPTIONS

APP = "tuned"


def _config(arxiv_url: str, qdrant: Path, summarizer_tuning: dict[str, Any]) -> Any:
    from ray.serve.schema import ServeDeploySchema

    deployments = [{"name": name, **options} for name, options in TEST_OPTIONS.items()]
    deployments.append({"name": "ArxivGate", "ray_actor_options": {"num_cpus": 0}})
    for deployment in deployments:
        if deployment["name"] == "Summarizer":
            deployment["user_config"] = summarizer_tuning
    return ServeDeploySchema.model_validate(
        {
            "logging_config": {"encoding": "JSON", "log_level": "INFO"},
            "applications": [
                {
                    "name": APP,
                    "route_prefix": f"/{APP}",
                    "import_path": "graph:app",
                    "args": {
                        "arxiv_api_url": arxiv_url,
                        "arxiv_min_interval_s": 0.0,
                        "arxiv_num_retries": 1,
                        "arxiv_backoff_base_s": 0.05,
                        "qdrant_path": str(qdrant),
                        # Never the checkout's ./data/index: after `make ingest` it would answer
                        # instead of the stand-in (with the summaries it stored).
                        "index_path": str(qdrant.parent / "index"),
                        "outbox_path": str(qdrant.parent / "outbox.sqlite"),
                    },
                    "deployments": deployments,
                }
            ],
        }
    )


def _deploy(config: Any) -> None:
    from ray import serve

    # What `serve deploy` and KubeRay do through the dashboard's REST API (not started here).
    serve.context._get_global_client().deploy_apps(config)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = serve.status().applications.get(APP)
        if status is not None and status.status == "RUNNING":
            return
        time.sleep(0.5)
    raise TimeoutError(f"{APP} did not reach RUNNING: {serve.status().applications.get(APP)}")


def _replicas(deployment: str) -> set[str]:
    import ray

    prefix = f"SERVE_REPLICA::{APP}#{deployment}#"
    actors = ray.util.list_named_actors(all_namespaces=True)
    return {a["name"] for a in actors if a["name"].startswith(prefix)}


@pytest.fixture(scope="module")
def tuned(serve_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from ray import serve

    with StandIn(load_records([SAMPLE_CORPUS])) as arxiv:
        qdrant = tmp_path_factory.mktemp("tuned") / "qdrant"
        _deploy(_config(arxiv.url, qdrant, {"max_words": 40}))
        client = httpx.Client(base_url=f"{serve_url}/{APP}", timeout=120.0)
        yield {"arxiv": arxiv, "qdrant": qdrant, "client": client}
        client.close()
        serve.delete(APP)


def _execute(client: httpx.Client, query: str, **headers: str) -> dict[str, Any]:
    response = client.post("/execute", json={"query": query, "max_papers": 3}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_summarizer_setting_changes_that_stage_alone(tuned: dict[str, Any]) -> None:
    from ray import serve

    body = _execute(tuned["client"], "graph neural networks")
    assert max(len(p["summary"].split()) for p in body["papers"]) > 8
    embedders, summarizers = _replicas("Embedder"), _replicas("Summarizer")
    assert len(embedders) == len(summarizers) == 1

    _deploy(_config(tuned["arxiv"].url, tuned["qdrant"], {"max_words": 8}))
    summarizer = serve.get_deployment_handle("Summarizer", app_name=APP)
    abstract = "Training is costly. We propose a method that trains a model in half the time."
    deadline = time.monotonic() + 60
    while len(summarizer.summarize.remote("", abstract).result().summary.split()) > 8:
        assert time.monotonic() < deadline, "the new max_words never took effect"
        time.sleep(0.5)

    body = _execute(tuned["client"], "attention summarization")
    assert body["papers"] and all(len(p["summary"].split()) <= 8 for p in body["papers"])
    assert _replicas("Embedder") == embedders  # the model was not reloaded
    assert _replicas("Summarizer") == summarizers  # reconfigured in place, not restarted


def test_log_events_reach_serves_json_logs_with_the_request_id(tuned: dict[str, Any]) -> None:
    tuned["arxiv"].set_fault("503", count=1)  # one retry, logged at INFO by the arXiv client
    _execute(tuned["client"], "quantum error correction", **{"X-Request-ID": "log-probe-7"})
    logs = sorted((SESSION["dir"] / "logs" / "serve").glob(f"replica_{APP}_ArxivFetcher_*.log"))
    assert logs, "no ArxivFetcher replica log"
    lines = [json.loads(line) for log in logs for line in log.read_text().splitlines() if line]
    retries = [line for line in lines if line.get("event") == "arxiv.retry"]
    assert retries, "the retry line is in none of Serve's log files"
    line = retries[-1]
    assert line["levelname"] == "INFO" and line["request_id"] == "log-probe-7"
    assert line["status"] == 503 and line["attempt"] == 1 and line["delay_s"] > 0  # fields: keys
    assert line["message"].startswith("arxiv.retry attempt=1 ")
    assert line["deployment"] == f"{APP}_ArxivFetcher" and line["replica"]  # Serve: app_name
    assert line["application"] == APP
