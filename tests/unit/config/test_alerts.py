"""The alerts (monitoring/alerts.yml): valid for Prometheus, each firing on the series it is for
(promtool's rule tests, in simulated time), each with a runbook section, loaded by `make
monitor`, and the same rules in the KubeRay PrometheusRule."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT
from tests.unit.config.test_k8s_hygiene import ARM_METRICS, SERVE_METRICS, _metric_names

MONITORING = ROOT / "monitoring"


def _promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("no promtool (apt-get install prometheus)")
    return promtool


def _alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_prometheus_accepts_the_rules() -> None:
    promtool = _promtool()
    for rules in ("rules.yml", "alerts.yml"):
        done = subprocess.run(
            [promtool, "check", "rules", str(MONITORING / rules)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_each_alert_fires_on_its_series_after_its_for() -> None:
    promtool = _promtool()
    done = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yml"],
        cwd=MONITORING,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    tested = set(re.findall(r"alertname: (\w+)", (MONITORING / "alerts_test.yml").read_text()))
    assert tested == {rule["alert"] for rule in _alerts()}  # none left untested


def test_each_alert_names_its_runbook_section() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text()
    headings = {
        line.removeprefix("### ").strip().lower()
        for line in operations.splitlines()
        if line.startswith("### ")
    }
    wanted = {"ArmStageDown", "ArmErrorRatioHigh", "ArmLatencySLOBurn", "ArmOutboxNotDraining",
              "ArmArxivThrottled", "ArmIndexStale"}  # fmt: skip
    assert wanted <= {rule["alert"] for rule in _alerts()}
    for rule in _alerts():
        page, anchor = rule["annotations"]["runbook"].split("#")
        assert page == "docs/operations.md" and anchor == rule["alert"].lower()
        assert anchor in headings, f"no '### {rule['alert']}' section in {page}"
        assert rule["labels"]["severity"] in {"critical", "warning"}


def test_make_monitor_loads_them_and_kuberay_gets_the_same_rules() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    assert {"rules.yml", "alerts.yml"} <= set(config["rule_files"])
    rule = yaml.safe_load((ROOT / "k8s" / "alerts.yaml").read_text())
    assert rule["kind"] == "PrometheusRule"
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    # The Prometheus that k8s/monitoring.yaml's PodMonitor feeds selects it by the same label.
    monitor = yaml.safe_load((ROOT / "k8s" / "monitoring.yaml").read_text())
    assert rule["metadata"]["labels"]["release"] == monitor["metadata"]["labels"]["release"]
    local = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
    assert rule["spec"]["groups"] == local


def test_grafana_shows_what_the_alerts_watch() -> None:
    """Rows for errors by outcome, arXiv retries and throttles, the outbox, summary outcomes."""
    dashboard = json.loads((ROOT / "k8s" / "grafana-dashboard.json").read_text())
    exprs = {
        panel["title"]: " ".join(t["expr"] for t in panel["targets"])
        for panel in dashboard["panels"]
        if panel["type"] != "row"
    }
    for wanted in (
        'ray_arm_requests_total{outcome!="ok"',
        'ray_arm_stage_calls_total{outcome!="ok"',
        "ray_arm_summaries_total",
        "ray_arm_arxiv_retries_total",
        "sum by (kind) (rate(ray_arm_arxiv_throttles_total",
        "ray_arm_outbox_entries",
        "ray_arm_outbox_oldest_age_seconds",
    ):
        assert any(wanted in expr for expr in exprs.values()), wanted


def test_the_alerts_ask_for_metrics_that_exist() -> None:
    """Every series an alert reads is one the arm or Serve exports (a renamed metric would
    leave an alert that can never fire)."""
    for rule in _alerts():
        # ray_io_cluster: KubeRay's cluster label (in `by` clauses), not a metric
        unknown = _metric_names(rule["expr"]) - ARM_METRICS - SERVE_METRICS - {"ray_io_cluster"}
        assert not unknown, f"{rule['alert']}: {unknown}"
