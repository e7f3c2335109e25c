"""Placement on a multi-node Ray cluster, on one machine.

Three ``ray start`` nodes on 127.0.0.1, shaped like k8s/rayservice.yaml's pod groups from their
``rayStartParams``: the head (no CPUs for Ray), a cpu worker, and a "GPU" worker that offers no
CPUs and advertises the ``gpu_node`` resource (standing for its GPU: this machine has none). The
cluster's own serveConfigV2 (generated from serve_config.yaml + k8s/cluster-overlay.yaml) is
deployed with ``serve deploy``, with local folders and a local arXiv instead of the Qdrant server
and arXiv, and without ``num_gpus``. Serve's status and the actors' node ids must then show the
GPU stages on the GPU worker only and every other stage on the cpu worker.

The cluster runs with token authentication (Ray 2.60's default for ``ray start``), a token of
its own; every process of it is stopped by this test (SIGTERM to each ``ray start --block``).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from arm_dev.arxiv import SAMPLE_CORPUS, StandIn, load_records
from k8s.generate import merge
from tests.conftest import ROOT
from tests.graph.conftest import _free_port

VENV_BIN = Path(sys.executable).parent
MANIFEST = ROOT / "k8s" / "rayservice.yaml"
APP = "research-arm"


@dataclass
class Node:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


def _manifest() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The RayService's serveConfigV2 and its pod groups ('head', 'cpu', 'gpu')."""
    (service,) = [
        d for d in yaml.safe_load_all(MANIFEST.read_text()) if d and d["kind"] == "RayService"
    ]
    cluster = service["spec"]["rayClusterConfig"]
    groups = {"head": cluster["headGroupSpec"]}
    groups |= {g["groupName"]: g for g in cluster["workerGroupSpecs"]}
    return yaml.safe_load(service["spec"]["serveConfigV2"]), groups


def _start_args(group: Mapping[str, Any]) -> list[str]:
    """``ray start`` flags from a group's rayStartParams: its CPUs (the pod's request when the
    params leave Ray to count them) and its custom resources."""
    params = group["rayStartParams"]
    cpus = (
        params.get("num-cpus")
        or group["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
    )
    args = [f"--num-cpus={cpus}"]
    if "resources" in params:  # KubeRay quotes the JSON once more for its shell
        args.append(f"--resources={json.loads(params['resources'])}")
    return args


def _node_ports(base: int) -> list[str]:
    """Ports of one node's own processes: several nodes share this machine's loopback."""
    return [
        f"--node-manager-port={base}",
        f"--object-manager-port={base + 1}",
        f"--dashboard-agent-listen-port={base + 2}",
        f"--dashboard-agent-grpc-port={base + 3}",
        f"--runtime-env-agent-port={base + 4}",
        f"--metrics-export-port={base + 5}",
        f"--min-worker-port={base + 10}",
        f"--max-worker-port={base + 199}",
    ]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A head, a cpu worker and a gpu worker; yields the env to reach them and the addresses."""
    _, groups = _manifest()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),  # the workers import graph:app from the checkout
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(16),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    env.pop("RAY_ADDRESS", None)
    # A temp folder of its own: `ray start --head` records itself as this machine's current
    # cluster there, and a later `ray.init()` (make run, the tier's Ray) would connect to it.
    # Short, for the Unix sockets' path limit.
    temp_dir = Path(tempfile.mkdtemp(prefix="arm-nodes-", dir="/tmp"))
    gcs, dashboard = _free_port(), _free_port()
    bases = random.sample(range(20000, 30000, 200), 3)
    nodes: list[Node] = []

    def start(name: str, extra: list[str]) -> None:
        log = tmp_path / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    str(VENV_BIN / "ray"),
                    "start",
                    "--block",
                    "--node-ip-address=127.0.0.1",
                    *_start_args(groups[name]),
                    *_node_ports(bases[len(nodes)]),
                    *extra,
                ],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        nodes.append(Node(name, process, log))

    try:
        start(
            "head",
            [
                "--head",
                f"--temp-dir={temp_dir}",
                f"--port={gcs}",
                f"--dashboard-port={dashboard}",
                "--dashboard-host=127.0.0.1",
                f"--ray-client-server-port={_free_port()}",
            ],
        )
        _wait_for(lambda: _cli(env, "status", f"--address=127.0.0.1:{gcs}").returncode == 0, 120)
        # One at a time: nodes joining together pick the same socket names in the session.
        for worker in ("cpu", "gpu"):
            start(worker, [f"--address=127.0.0.1:{gcs}"])
            _wait_for(lambda: len(_nodes(env, dashboard)) == len(nodes), 120)
        yield {"env": env, "dashboard": f"http://127.0.0.1:{dashboard}"}
    finally:
        for node in reversed(nodes):  # workers first, the head last
            _stop(node)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _cli(env: Mapping[str, str], *args: str, tool: str = "ray") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / tool), *args], env=dict(env), capture_output=True, text=True, timeout=120
    )


def _nodes(env: Mapping[str, str], dashboard: int | str) -> list[dict[str, Any]]:
    address = dashboard if isinstance(dashboard, str) else f"http://127.0.0.1:{dashboard}"
    listed = _cli(env, "list", "nodes", "--format=json", "--detail", f"--address={address}")
    if listed.returncode != 0 or not listed.stdout.startswith("["):
        return []  # the dashboard is not up yet ("No resource in the cluster")
    return [n for n in json.loads(listed.stdout) if n["state"] == "ALIVE"]


def _wait_for(ready: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not ready after {timeout_s:.0f} s")
        time.sleep(2)


def _stop(node: Node) -> None:
    """SIGTERM to ``ray start --block`` stops the node's processes; SIGKILL its group after 60 s."""
    if node.process.poll() is None:
        node.process.send_signal(signal.SIGTERM)
        try:
            node.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(node.process.pid, signal.SIGKILL)
            node.process.wait(timeout=10)


def _local_config(http_port: int, arxiv_url: str, data: Path) -> dict[str, Any]:
    """The cluster's serveConfigV2 with this machine in place of the cluster's services."""
    config, _ = _manifest()
    app = next(a for a in config["applications"] if a["name"] == APP)
    single = {"autoscaling_config": {"min_replicas": 1, "max_replicas": 1}}
    local = {
        "proxy_location": "HeadOnly",
        "http_options": {"host": "127.0.0.1", "port": http_port},
        "applications": [
            {
                "name": APP,
                "args": {
                    "arxiv_api_url": arxiv_url,
                    "arxiv_min_interval_s": 0.0,
                    "arxiv_source": "api",
                    "qdrant_path": str(data / "qdrant"),
                    "outbox_path": str(data / "outbox.sqlite"),
                    "index_path": str(data / "index"),
                },
                "deployments": [
                    # The "GPU" is the gpu_node resource: no CUDA device to ask for here.
                    {"name": "Embedder", "ray_actor_options": {"num_gpus": None}, **single},
                    *(
                        {"name": d["name"], **single}
                        for d in app["deployments"]
                        if "autoscaling_config" in d and d["name"] != "Embedder"
                    ),
                ],
            }
        ],
    }
    return dict(merge(config, local))


def test_gpu_stages_run_only_on_the_gpu_node(cluster: dict[str, Any], tmp_path: Path) -> None:
    env, dashboard = cluster["env"], cluster["dashboard"]
    config_file = tmp_path / "cluster_serve_config.yaml"
    http_port = _free_port()
    with StandIn(load_records([SAMPLE_CORPUS])) as arxiv:
        config = _local_config(http_port, arxiv.url, tmp_path)
        config_file.write_text(yaml.safe_dump(config))
        deployed = _cli(env, "deploy", str(config_file), f"--address={dashboard}", tool="serve")
        assert deployed.returncode == 0, deployed.stderr[-2000:]

        def running() -> bool:
            status = _cli(env, "status", f"--address={dashboard}", tool="serve")
            app = (yaml.safe_load(status.stdout or "{}") or {}).get("applications", {}).get(APP)
            return bool(app) and app["status"] == "RUNNING"

        _wait_for(running, 300)
        status = yaml.safe_load(_cli(env, "status", f"--address={dashboard}", tool="serve").stdout)
        stages = status["applications"][APP]["deployments"]
        assert {name: d["status"] for name, d in stages.items()} == dict.fromkeys(stages, "HEALTHY")

        # The graph answers across the nodes: the Ingress on the cpu worker, the Embedder on
        # the gpu worker.
        answer = httpx.post(
            f"http://127.0.0.1:{http_port}/execute",
            json={"query": "surface code decoding", "max_papers": 2},
            timeout=120,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["papers"]

    nodes = {n["node_id"]: n for n in _nodes(env, dashboard)}
    gpu_node = {i for i, n in nodes.items() if n["resources_total"].get("gpu_node")}
    head = {i for i, n in nodes.items() if n["is_head_node"]}
    assert len(gpu_node) == 1 and len(head) == 1
    actors = json.loads(
        _cli(
            env,
            "list",
            "actors",
            "--format=json",
            "--detail",
            "--limit=1000",
            f"--address={dashboard}",
            "--filter",
            "state=ALIVE",
        ).stdout
    )
    where: dict[str, set[str]] = {}
    for actor in actors:
        if actor["class_name"].startswith(f"ServeReplica:{APP}:"):
            stage = actor["class_name"].rsplit(":", 1)[1]
            where.setdefault(stage, set()).add(actor["node_id"])
    assert set(where) == set(stages)
    gpu_stages = {
        d["name"]
        for d in config["applications"][0]["deployments"]
        if d.get("ray_actor_options", {}).get("resources", {}).get("gpu_node")
    }
    assert gpu_stages == {"Embedder"}
    for stage, node_ids in where.items():
        if stage in gpu_stages:
            assert node_ids == gpu_node, stage
        else:  # the cpu worker: neither the head nor the GPU node
            assert not node_ids & (gpu_node | head), stage
