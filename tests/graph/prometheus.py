"""A Prometheus (Debian's `prometheus` binary) over the test tier's Ray cluster, for the tests of
`make monitor`'s configuration: monitoring/prometheus.yml with its rule files.

The tier's Ray runs without a dashboard, which is what writes Ray's service-discovery file for
`make run`, so this writes that file itself, in Ray's format, from the cluster's nodes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.graph.conftest import _free_port

MONITORING = ROOT / "monitoring"
RAY_DISCOVERY_FILE = "/tmp/ray/prom_metrics_service_discovery.json"


@contextmanager
def prometheus(
    tmp_path: Path, edit: Callable[[str, str], str] = lambda name, text: text
) -> Iterator[str]:
    """Prometheus on a free port with monitoring/'s configuration, each file passed through
    ``edit(name, text)`` first; yields its URL. Skips where there is no `prometheus` binary."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("no prometheus binary (apt-get install prometheus)")
    import ray

    targets = [f"127.0.0.1:{n['MetricsExportPort']}" for n in ray.nodes() if n["Alive"]]
    discovery = tmp_path / "prom_metrics_service_discovery.json"
    discovery.write_text(json.dumps([{"labels": {"job": "ray"}, "targets": targets}]))
    config = (MONITORING / "prometheus.yml").read_text()
    assert RAY_DISCOVERY_FILE in config
    config = config.replace(RAY_DISCOVERY_FILE, str(discovery))
    (tmp_path / "prometheus.yml").write_text(edit("prometheus.yml", config))
    for rules in ("rules.yml", "alerts.yml"):
        (tmp_path / rules).write_text(edit(rules, (MONITORING / rules).read_text()))

    port = _free_port()
    log = tmp_path / "prometheus.log"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def query(url: str, expr: str) -> dict[str, float]:
    """Each series of an instant query by its labels, as ``{"label=value,...": value}``."""
    response = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10)
    response.raise_for_status()  # 503 while Prometheus starts: an httpx.HTTPError, as when down
    body = response.json()
    return {
        ",".join(f"{k}={v}" for k, v in sorted(r["metric"].items()) if k != "__name__"): float(
            r["value"][1]
        )
        for r in body["data"]["result"]
    }
