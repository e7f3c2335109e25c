"""The alerts of monitoring/alerts.yml fire on a running graph, in `make monitor`'s Prometheus:
a stage killed (ArmStageDown), arXiv throttling the arm (ArmArxivThrottled).

Here each alert's expression meets real series; its `for` is set to 0 and Prometheus scrapes
and evaluates every second, so the test waits seconds rather than minutes. The `for` clauses
themselves are checked in simulated time by `promtool test rules` (tests/unit/config).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from arm_dev.faults import kill_replica, wait_until_back
from tests.graph.conftest import App
from tests.graph.prometheus import prometheus, query

WAIT_S = 150.0


def _quick(name: str, text: str) -> str:
    """Scrape and evaluate every second; alerts fire as soon as their expression holds."""
    if name == "prometheus.yml":
        return re.sub(r"(scrape|evaluation)_interval: \d+s", r"\1_interval: 1s", text)
    if name == "alerts.yml":
        return re.sub(r"interval: \d+s", "interval: 1s", re.sub(r"for: \w+", "for: 0s", text))
    return text


def _fired(url: str, alert: str, **labels: str) -> bool:
    """Whether ``alert`` has been firing at any time in the last 10 minutes."""
    matchers = "".join(f', {k}="{v}"' for k, v in labels.items())
    expr = f'max_over_time(ALERTS{{alertname="{alert}", alertstate="firing"{matchers}}}[10m])'
    try:
        return bool(query(url, expr))
    except httpx.HTTPError:
        return False  # not listening yet


def test_a_killed_stage_and_a_throttling_arxiv_fire_their_alerts(
    main_app: App, tmp_path: Path
) -> None:
    with prometheus(tmp_path, _quick) as url:
        # arXiv refuses every request for rate: a search tries, retries, and gives up (503).
        main_app.arxiv.set_fault("429", count=-1, retry_after=1)
        try:
            deadline = time.monotonic() + WAIT_S
            n = 0
            while not _fired(url, "ArmArxivThrottled") and time.monotonic() < deadline:
                n += 1  # a new query each time: a failed search is not cached, but be sure
                answer = main_app.client.post("/execute", json={"query": f"throttled alert {n}"})
                assert answer.status_code == 503, answer.text
                time.sleep(2)
        finally:
            main_app.arxiv.reset()
        log = (tmp_path / "prometheus.log").read_text
        assert _fired(url, "ArmArxivThrottled", application=main_app.name), log()

        killed = kill_replica(main_app.name, "Embedder")
        try:
            deadline = time.monotonic() + WAIT_S
            labels = {"application": main_app.name, "deployment": "Embedder"}
            while not _fired(url, "ArmStageDown", **labels) and time.monotonic() < deadline:
                time.sleep(1)
            assert _fired(url, "ArmStageDown", **labels), log()
        finally:
            wait_until_back(main_app.name, "Embedder", killed)
        answer = main_app.client.post("/execute", json={"query": "alerts over, served again"})
        assert answer.status_code == 200
