"""`make monitor`'s Prometheus (monitoring/prometheus.yml + rules.yml) over a running graph: a
stage's series arrive and the recording rules turn them into per-stage throughput.

Runs where the `prometheus` binary is (Debian's package); skipped elsewhere.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.graph.conftest import App
from tests.graph.prometheus import prometheus, query


def test_prometheus_records_each_stage(main_app: App, tmp_path: Path) -> None:
    with prometheus(tmp_path) as url:
        deadline = time.monotonic() + 120
        embedded: dict[str, float] = {}
        while time.monotonic() < deadline:
            # Traffic while Prometheus scrapes: a rate needs two samples of a moving counter.
            asked = {"query": f"prometheus monitoring {time.monotonic()}", "max_papers": 1}
            assert main_app.client.post("/execute", json=asked).status_code == 200
            try:
                embedded = query(url, 'arm:stage_items:rate1m{stage="embedder"}')
            except httpx.HTTPError:
                pass  # not listening yet
            if any(v > 0 for v in embedded.values()):
                break
            time.sleep(3)
        assert any(v > 0 for v in embedded.values()), (tmp_path / "prometheus.log").read_text()
        stages = query(url, "arm:stage_calls:rate1m")
        assert {"stage=embedder", "stage=ingress", "stage=arxiv"} <= set(stages)
        replicas = query(url, "arm:deployment_replicas")
        assert replicas.get("deployment=Embedder", 0) >= 1
