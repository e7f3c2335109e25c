"""What goes wrong shows in the metrics: read from Ray's metrics endpoint (each node's
``MetricsExportPort``, the port Prometheus scrapes), in Prometheus's text format, after faults.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.graph.conftest import App

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
REPORT_WAIT_S = 90.0  # Ray exports a replica's metrics every few seconds; a loaded VM is slower
EXPORT_PERIOD_S = 6.0  # longer than Ray's export period (5 s): two scrapes this far apart


def _scrape() -> Samples:
    """Every ``ray_arm_*`` sample of every live node, summed over replicas, by name and labels
    (Serve's own labels dropped)."""
    import ray

    samples: Samples = {}
    for node in ray.nodes():
        if not node["Alive"]:
            continue
        text = httpx.get(f"http://127.0.0.1:{node['MetricsExportPort']}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if not sample.name.startswith("ray_arm_"):
                    continue
                labels = frozenset(
                    (k, v)
                    for k, v in sample.labels.items()
                    if k in {"outcome", "kind", "stage", "route", "status", "path"}
                )
                key = (sample.name, labels)
                samples[key] = samples.get(key, 0.0) + sample.value
    return samples


def _value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def _settled() -> Samples:
    """The samples once Ray has exported everything done so far: two scrapes an export period
    apart that agree (an earlier test's last requests may still be on their way)."""
    deadline = time.monotonic() + REPORT_WAIT_S
    samples = _scrape()
    while time.monotonic() < deadline:
        time.sleep(EXPORT_PERIOD_S)
        again = _scrape()
        if _counters(again) == _counters(samples):
            break
        samples = again
    return samples


def _counters(samples: Samples) -> Samples:
    """The counts (gauges move by themselves: an outbox entry's age)."""
    return {key: v for key, v in samples.items() if key[0].endswith(("_total", "_count"))}


def _until(check: Callable[[Samples], bool]) -> Samples:
    """The settled samples, once ``check`` holds for them (or ``REPORT_WAIT_S`` has passed)."""
    deadline = time.monotonic() + REPORT_WAIT_S
    while not check(_scrape()) and time.monotonic() < deadline:
        time.sleep(2)
    return _settled()


def test_an_arxiv_outage_shows_in_the_metrics_by_outcome(main_app: App) -> None:
    before = _settled()
    main_app.arxiv.set_fault("429", count=-1, retry_after=1)
    try:
        refused = main_app.client.post("/execute", json={"query": "metrics under throttling"})
    finally:
        main_app.arxiv.reset()
    assert refused.status_code == 503 and refused.json()["error"] == "arxiv_unavailable"

    def grew(name: str, samples: Samples, **labels: str) -> float:
        return _value(samples, name, **labels) - _value(before, name, **labels)

    def shown(samples: Samples) -> bool:
        return grew("ray_arm_requests_total", samples, outcome="arxiv_unavailable") >= 1

    after = _until(shown)
    # The answer, by outcome; the fetcher's call, failed; each request to arXiv, throttled.
    assert grew("ray_arm_requests_total", after, route="/execute", outcome="arxiv_unavailable") == 1
    assert grew("ray_arm_stage_calls_total", after, stage="arxiv", outcome="failed") >= 1
    throttled = grew("ray_arm_arxiv_requests_total", after, outcome="throttled")
    assert throttled >= 2  # the first try and at least one retry
    assert grew("ray_arm_arxiv_throttles_total", after, kind="429") == throttled
    assert grew("ray_arm_arxiv_retries_total", after) == throttled - 1
    # Nothing else moved the ok counters for it.
    assert grew("ray_arm_arxiv_requests_total", after, outcome="ok") == 0

    ok = main_app.client.post("/execute", json={"query": "metrics once arXiv is back"})
    assert ok.status_code == 200
    after_ok = _until(lambda s: grew("ray_arm_requests_total", s, outcome="ok") >= 1)
    assert grew("ray_arm_requests_total", after_ok, route="/execute", outcome="ok") == 1
    assert grew("ray_arm_stage_calls_total", after_ok, stage="embedder", outcome="ok") >= 1
    assert grew("ray_arm_execute_latency_ms_count", after_ok, path="cold") == 1  # a new query
    summaries = [grew("ray_arm_summaries_total", after_ok, outcome=o) for o in ("ok", "reused")]
    assert sum(summaries) >= 1  # made now, or taken from memory (an earlier test's papers)
    # The gauges are there for an operator to watch: the outbox, the searches waiting at the gate.
    for gauge in ("ray_arm_outbox_entries", "ray_arm_outbox_oldest_age_seconds"):
        assert (gauge, frozenset()) in after_ok, gauge
    assert ("ray_arm_arxiv_gate_waiting", frozenset()) in after_ok
