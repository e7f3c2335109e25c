"""Kubernetes hygiene that can be checked without a cluster: no deprecated KubeRay fields, Ray's
temp folder on an emptyDir, GPU workers closed to CPU stages, Qdrant's server near its client,
each secret key only where it is used, the head's metrics scraped, a Grafana row per stage, and
a Dockerfile that caches its dependencies and installs the CPU torch."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT
from tests.unit.config.test_serve_config import STAGES

K8S = ROOT / "k8s"
RAYSERVICES = ["rayservice.yaml", "rayservice-vllm.yaml"]
RAY_MANIFESTS = [*RAYSERVICES, "ingest-rayjob.yaml"]
ALL_MANIFESTS = [*RAY_MANIFESTS, "qdrant.yaml", "monitoring.yaml", "secret.example.yaml"]

# Deprecated in KubeRay's v1 API (ray-operator/apis/ray/v1/*_types.go: "Deprecated: This field
# is not used anymore", kuberay#1685; RayJob deletionStrategy's legacy policies). The CRD in
# ../shared carries no descriptions for them, so the list is kept here.
DEPRECATED = {
    "RayService": {"serviceUnhealthySecondThreshold", "deploymentUnhealthySecondThreshold"},
    "RayJob": {"onSuccess", "onFailure"},
}

# Who may read which key. On KubeRay any replica may land on any worker with room, so a group
# that can host a CPU stage (num-cpus not 0) gets the keys of every stage that reads one.
STAGE_KEYS = {"ARM_API_KEY", "OPENAI_API_KEY", "QDRANT_API_KEY"}  # Ingress, Summarizer, memory
SECRET = "research-arm-secrets"


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def _cluster(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    return dict(spec["rayClusterConfig"] if doc["kind"] == "RayService" else spec["rayClusterSpec"])


def _groups(name: str) -> dict[str, dict[str, Any]]:
    """Every Ray pod group of a RayService or RayJob manifest: 'head' and the worker groups."""
    (doc,) = [d for d in _docs(name) if d["kind"] in ("RayService", "RayJob")]
    cluster = _cluster(doc)
    return {"head": cluster["headGroupSpec"]} | {
        g["groupName"]: g for g in cluster["workerGroupSpecs"]
    }


def _walk(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [k for key, value in node.items() for k in (key, *_walk(value))]
    if isinstance(node, list):
        return [k for item in node for k in _walk(item)]
    return []


@pytest.mark.parametrize("name", RAY_MANIFESTS)
def test_no_deprecated_kuberay_fields(name: str) -> None:
    for doc in _docs(name):
        if doc["kind"] in DEPRECATED:
            assert doc["apiVersion"] == "ray.io/v1"  # v1alpha1 is deprecated
            assert not DEPRECATED[doc["kind"]] & set(_walk(doc["spec"]))


@pytest.mark.parametrize("name", RAY_MANIFESTS)
def test_every_ray_pod_keeps_tmp_ray_on_an_emptydir(name: str) -> None:
    for group_name, group in _groups(name).items():
        pod = group["template"]["spec"]
        empty = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        for container in pod["containers"]:
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert mounts.get("/tmp/ray") in empty, f"{name}: {group_name}/{container['name']}"


def _cpu_request(group: dict[str, Any]) -> float:
    return float(group["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"])


def _gpus(group: dict[str, Any]) -> int:
    limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
    return int(limits.get("nvidia.com/gpu", 0))


def _advertised(group: dict[str, Any]) -> dict[str, float]:
    """The custom resources a group's ``rayStartParams.resources`` advertises (KubeRay quotes
    the JSON once more)."""
    text = group["rayStartParams"].get("resources")
    return dict(json.loads(json.loads(text))) if text else {}


@pytest.mark.parametrize("name", RAYSERVICES)
def test_gpu_stages_only_on_gpu_workers_and_cpu_stages_never(name: str) -> None:
    (service,) = [d for d in _docs(name) if d["kind"] == "RayService"]
    app = yaml.safe_load(service["spec"]["serveConfigV2"])["applications"][0]
    actor_options = {d["name"]: d.get("ray_actor_options", {}) for d in app["deployments"]}
    llm = app["args"].get("llm_config")
    if llm:
        actor_options["LLM"] = llm["deployment_config"]["ray_actor_options"]
    gpu_stages = {n for n, o in actor_options.items() if o.get("resources", {}).get("gpu_node")}
    assert "Embedder" in gpu_stages and (not llm or "LLM" in gpu_stages)
    for stage, options in actor_options.items():
        if stage not in gpu_stages:  # some CPU: never on the head or a gpu pod (they offer none)
            assert options["num_cpus"] > 0, stage
    groups = _groups(name)
    assert groups["head"]["rayStartParams"]["num-cpus"] == "0"
    for group_name, group in groups.items():
        gpus = _gpus(group)
        if gpus:
            assert group["rayStartParams"]["num-cpus"] == "0", group_name
        assert _advertised(group).get("gpu_node", 0) == gpus, group_name


def test_ingest_gpu_workers_cap_their_cpus() -> None:
    for group in _groups("ingest-rayjob.yaml").values():
        if _gpus(group):
            assert float(group["rayStartParams"]["num-cpus"]) < _cpu_request(group)


def test_qdrant_server_within_one_minor_of_the_client() -> None:
    (statefulset,) = [d for d in _docs("qdrant.yaml") if d["kind"] == "StatefulSet"]
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    match = re.fullmatch(r"qdrant/qdrant:v(\d+)\.(\d+)\.(\d+)", container["image"])
    assert match, container["image"]
    client = [int(p) for p in version("qdrant-client").split(".")[:2]]
    server = [int(match[1]), int(match[2])]
    assert server[0] == client[0] and abs(server[1] - client[1]) <= 1, (server, client)


def _secret_keys(container: dict[str, Any]) -> set[str]:
    keys = set()
    for source in container.get("envFrom", []):
        assert "secretRef" not in source, f"{container['name']}: the whole Secret via envFrom"
    for env in container.get("env", []):
        ref = env.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"] == SECRET and ref["key"] == env["name"], env
            keys.add(ref["key"])
    return keys


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every container of every pod template in a manifest document."""
    found: list[dict[str, Any]] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("containers"), list):
                found.extend(node["containers"])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(doc)
    return found


def test_no_pod_gets_the_whole_secret() -> None:
    example = (K8S / "secret.example.yaml").read_text()
    for name in ALL_MANIFESTS:
        for doc in _docs(name):
            for container in _containers(doc):
                for key in _secret_keys(container):
                    assert key in example, f"{name}: {key} is not in secret.example.yaml"


@pytest.mark.parametrize("name", RAYSERVICES)
def test_stage_keys_reach_exactly_the_groups_whose_stages_read_them(name: str) -> None:
    (service,) = [d for d in _docs(name) if d["kind"] == "RayService"]
    args = yaml.safe_load(service["spec"]["serveConfigV2"])["applications"][0]["args"]
    # The keys this service's stages read: the OpenAI key only with the openai backend.
    read = STAGE_KEYS - (
        set() if args.get("summarizer_backend") == "openai" else {"OPENAI_API_KEY"}
    )
    for group_name, group in _groups(name).items():
        (container,) = group["template"]["spec"]["containers"]
        hosts_stages = group["rayStartParams"].get("num-cpus") != "0"
        # Missing ARM_API_KEY where an Ingress lands would serve /execute without auth.
        assert _secret_keys(container) == (read if hosts_stages else set()), group_name


def test_ingest_and_qdrant_keys() -> None:
    groups = _groups("ingest-rayjob.yaml")
    keys = {
        n: _secret_keys(c) for n, g in groups.items() for c in g["template"]["spec"]["containers"]
    }
    assert keys == {"head": {"QDRANT_API_KEY"}, "cpu": set(), "gpu": set()}  # the driver only
    (statefulset,) = [d for d in _docs("qdrant.yaml") if d["kind"] == "StatefulSet"]
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    assert _secret_keys(container) == {"QDRANT__SERVICE__API_KEY"}


@pytest.mark.parametrize("name", RAYSERVICES)
def test_podmonitor_scrapes_every_metrics_port_head_included(name: str) -> None:
    (monitor,) = _docs("monitoring.yaml")
    assert monitor["kind"] == "PodMonitor"
    scraped = {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]}
    selector = monitor["spec"]["selector"]["matchLabels"]
    for group_name, group in _groups(name).items():
        labels = group["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), group_name
        (container,) = group["template"]["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert {p for p in ports if p.endswith("metrics")} <= scraped, group_name
        assert ports["metrics"] == int(group["rayStartParams"]["metrics-export-port"])
    (head_container,) = _groups(name)["head"]["template"]["spec"]["containers"]
    head = {p["name"]: p["containerPort"] for p in head_container["ports"]}
    # Ray's head: node metrics, the autoscaler's and the dashboard's (KubeRay's sample ports).
    assert head["metrics"] == 8080 and head["as-metrics"] == 44217 and head["dash-metrics"] == 44227


# Every metric the dashboard may query: the arm's (deployments/common/metrics.py, exported with
# Ray's `ray_` prefix) and Ray Serve's own (ray/serve/_private in Ray 2.60).
ARM_METRICS = {
    "ray_arm_stage_items_total",
    "ray_arm_stage_calls_total",
    "ray_arm_stage_latency_ms",
    "ray_arm_arxiv_requests_total",
    "ray_arm_arxiv_gate_wait_ms",
    "ray_arm_arxiv_retries_total",
    "ray_arm_arxiv_throttles_total",
    "ray_arm_requests_total",
    "ray_arm_summaries_total",
    "ray_arm_outbox_entries",
    "ray_arm_outbox_oldest_age_seconds",
    "ray_arm_arxiv_gate_waiting",
    "ray_arm_execute_latency_ms",
    "ray_arm_index_newest_seconds",
    "ray_arm_reader_papers_read_total",
    "ray_arm_reader_read_ms",
    "ray_arm_reader_cache_total",
    "ray_arm_reader_failures_total",
}
SERVE_METRICS = {
    "ray_serve_deployment_queued_queries",  # requests waiting at handles for a replica
    "ray_serve_num_ongoing_requests_at_replicas",  # requests handed to replicas, not done
    "ray_serve_deployment_replica_healthy",  # healthy replicas
    "ray_serve_autoscaling_target_replicas",  # what the autoscaler is heading for
    "ray_serve_deployment_status",  # a deployment's status, 1 DEPLOY_FAILED ... 6 HEALTHY
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
PANELS = ("items/s", "latency", "queue", "replicas")
STAGE_LABELS = {"Ingress": "ingress", "ArxivFetcher": "arxiv", "Embedder": "embedder",
                "Summarizer": "summarizer", "MemoryWriter": "memory",
                "Reader": "reader"}  # fmt: skip


def test_known_metrics_exist() -> None:
    source = (ROOT / "deployments" / "common" / "metrics.py").read_text()
    for metric in ARM_METRICS:
        assert f'"{metric.removeprefix("ray_")}"' in source, metric
    assert {f"ray_arm_stage_{s}" for s in ("items_total", "latency_ms")} <= ARM_METRICS
    serve = Path(pytest.importorskip("ray.serve").__file__).parent / "_private"
    text = "".join(p.read_text() for p in serve.rglob("*.py"))
    for metric in SERVE_METRICS:
        assert f'"{metric.removeprefix("ray_")}"' in text, metric


def _metric_names(expr: str) -> set[str]:
    names = set()
    for name in re.findall(r"\bray_[a-z0-9_]+\b(?!\s*[=!~])", expr):  # not a label matcher
        for suffix in HISTOGRAM_SUFFIXES:
            if name.endswith(suffix) and name.removesuffix(suffix) in ARM_METRICS | SERVE_METRICS:
                name = name.removesuffix(suffix)
        names.add(name)
    return names


def test_grafana_dashboard_has_a_row_per_stage() -> None:
    dashboard = json.loads((K8S / "grafana-dashboard.json").read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    by_title = {p["title"]: p for p in panels}
    for stage in STAGES:
        for kind in PANELS:
            panel = by_title.get(f"{stage}: {kind}")
            assert panel, f"no '{stage}: {kind}' panel"
            exprs = [t["expr"] for t in panel["targets"]]
            assert exprs and all(exprs)
            # Each panel is about its own stage: Serve's deployment tag or the arm's stage tag.
            mine = f'deployment="{stage}"', f'stage="{STAGE_LABELS.get(stage, "-")}"'
            if stage != "ArxivGate" or kind in ("queue", "replicas"):
                assert all(any(m in e for m in mine) for e in exprs), (stage, kind, exprs)
    for panel in panels:
        for target in panel["targets"]:
            unknown = _metric_names(target["expr"]) - ARM_METRICS - SERVE_METRICS
            assert not unknown, f"{panel['title']}: {unknown}"


def _dockerfile() -> list[str]:
    return (ROOT / "Dockerfile").read_text().splitlines()


def _line(lines: list[str], pattern: str) -> int:
    return next(i for i, line in enumerate(lines) if re.search(pattern, line))


def test_dockerfile_caches_dependencies_and_installs_cpu_torch() -> None:
    lines = _dockerfile()
    text = "\n".join(lines)
    assert "ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu" in text  # the CPU image
    assert re.search(r'pip install [^\n]*"torch==2\.13\.0" --index-url "\$\{TORCH_INDEX\}"', text)
    pyproject = _line(lines, r"^COPY .*pyproject\.toml")
    dependencies = _line(lines, r"pip install .*-r /tmp/requirements\.txt")
    code = _line(lines, r"^COPY .*deployments")
    package = _line(lines, r"pip install .*--no-deps \./client \.$")  # the API models, then the arm
    assert pyproject < dependencies < code < package
    assert not any(
        re.match(r"^COPY .*(deployments|models|graph\.py)", x) for x in lines[:dependencies]
    )
    assert "ENV HF_HUB_OFFLINE" not in text  # the pods decide (k8s/rayservice*.yaml)
    ray_docs = [d for n in RAY_MANIFESTS for d in _docs(n) if d["kind"] in ("RayService", "RayJob")]
    (ray_version,) = {_cluster(d)["rayVersion"] for d in ray_docs}
    assert f"ARG BASE=rayproject/ray:{ray_version}-" in text


def test_dockerfile_dependency_list_is_the_projects() -> None:
    # The one line of Python the image runs to list the dependencies, run here on pyproject.toml.
    text = (ROOT / "Dockerfile").read_text()
    code = re.search(r'RUN python -c "(.*?)" > /tmp/requirements\.txt', text, re.S)
    assert code
    script = code[1].replace("\\\n", "")

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    vllm = project["dependencies"] + project["optional-dependencies"]["vllm"]
    # The client distribution comes from the checkout (./client), not from the list.
    ours = [d for d in project["dependencies"] if not d.startswith("research-arm")]
    vllm = [d for d in vllm if not d.startswith("research-arm")]
    for extras, expected in [("", ours), ("vllm", vllm)]:
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={"EXTRAS": extras},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split("\n")[:-1] == expected


@pytest.mark.parametrize("name", RAYSERVICES)
def test_the_ingress_scales_out_before_it_refuses(name: str) -> None:
    """Admission refuses beyond MAX_IN_FLIGHT per replica: Serve's target must sit below it,
    or a replica's ongoing count could never exceed the target and it would never scale."""
    from models.settings import Settings

    (service,) = [d for d in _docs(name) if d["kind"] == "RayService"]
    app = yaml.safe_load(service["spec"]["serveConfigV2"])["applications"][0]
    (ingress,) = [d for d in app["deployments"] if d["name"] == "Ingress"]
    bound = app["args"].get("max_in_flight", Settings().max_in_flight)
    assert ingress["autoscaling_config"]["target_ongoing_requests"] < bound
    assert ingress["max_ongoing_requests"] > bound  # room to say no


@pytest.mark.parametrize("name", RAYSERVICES)
def test_every_pods_proxy_answers_its_own_errors_in_the_arms_shape(name: str) -> None:
    from ray.serve._private.http_util import validate_http_proxy_callback_return
    from ray.serve._private.utils import call_function_from_import_path

    from tests.graph.conftest import PROXY_CALLBACK, PROXY_ERRORS

    (config,) = [d for d in _docs(name) if d["kind"] == "ConfigMap"]
    assert config["data"][PROXY_CALLBACK] == PROXY_ERRORS
    for group, spec in _groups(name).items():  # a proxy runs on every node (EveryNode)
        for container in spec["template"]["spec"]["containers"]:
            maps = [s["configMapRef"]["name"] for s in container.get("envFrom", [])]
            assert config["metadata"]["name"] in maps, f"{group}: no {PROXY_CALLBACK}"
    # What Ray does with the variable when its proxy starts.
    (middleware,) = validate_http_proxy_callback_return(
        call_function_from_import_path(PROXY_ERRORS)
    )
    assert middleware.cls.__name__ == "ProxyErrorShape"
