"""`make monitor`'s Prometheus (monitoring/prometheus.yml + rules.yml) over a running graph: a
stage's series arrive and the recording rules turn them into per-stage throughput.

Runs where the `prometheus` binary is (Debian's package); skipped elsewhere. The tier's Ray runs
without a dashboard, which is what writes Ray's service-discovery file for `make run`, so the
test writes that file itself, in Ray's format, from the cluster's nodes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.graph.conftest import App, _free_port

MONITORING = ROOT / "monitoring"
RAY_DISCOVERY_FILE = "/tmp/ray/prom_metrics_service_discovery.json"


def _query(prometheus: str, expr: str) -> dict[str, float]:
    """Each series of an instant query by its labels, as ``{"label=value,...": value}``."""
    body = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10).json()
    return {
        ",".join(f"{k}={v}" for k, v in sorted(r["metric"].items()) if k != "__name__"): float(
            r["value"][1]
        )
        for r in body["data"]["result"]
    }


def test_prometheus_records_each_stage(main_app: App, tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("no prometheus binary (apt-get install prometheus)")
    import ray

    targets = [f"127.0.0.1:{n['MetricsExportPort']}" for n in ray.nodes() if n["Alive"]]
    discovery = tmp_path / "prom_metrics_service_discovery.json"
    discovery.write_text(json.dumps([{"labels": {"job": "ray"}, "targets": targets}]))
    config = (MONITORING / "prometheus.yml").read_text()
    assert RAY_DISCOVERY_FILE in config
    (tmp_path / "prometheus.yml").write_text(config.replace(RAY_DISCOVERY_FILE, str(discovery)))
    shutil.copy(MONITORING / "rules.yml", tmp_path / "rules.yml")

    port = _free_port()
    prometheus = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("wb"),
    )
    try:
        deadline = time.monotonic() + 120
        embedded: dict[str, float] = {}
        while time.monotonic() < deadline:
            # Traffic while Prometheus scrapes: a rate needs two samples of a moving counter.
            query = {"query": f"prometheus monitoring {time.monotonic()}", "max_papers": 1}
            assert main_app.client.post("/execute", json=query).status_code == 200
            try:
                embedded = _query(prometheus, 'arm:stage_items:rate1m{stage="embedder"}')
            except httpx.HTTPError:
                pass  # not listening yet
            if any(v > 0 for v in embedded.values()):
                break
            time.sleep(3)
        assert any(v > 0 for v in embedded.values()), (tmp_path / "prometheus.log").read_text()
        stages = _query(prometheus, "arm:stage_calls:rate1m")
        assert {"stage=embedder", "stage=ingress", "stage=arxiv"} <= set(stages)
        replicas = _query(prometheus, "arm:deployment_replicas")
        assert replicas.get("deployment=Embedder", 0) >= 1
    finally:
        process.terminate()
        process.wait(timeout=30)
