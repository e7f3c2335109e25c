"""serve_config.yaml and the KubeRay manifests: valid for Serve, KubeRay and the builder."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
import yaml
from ray.serve.config import AutoscalingConfig
from ray.serve.schema import ServeDeploySchema

from graph import GraphArgs
from tests.conftest import ROOT, shared_path

STAGES = ["Ingress", "ArxivGate", "ArxivFetcher", "Embedder", "Summarizer", "MemoryWriter"]


def _check_serve_config(config: dict[str, Any], *, embedder_gpus: float) -> None:
    schema = ServeDeploySchema.model_validate(config)
    (app,) = schema.applications
    assert app.import_path == "graph:app"
    GraphArgs.model_validate(app.args)  # no typo in args: the builder forbids unknown keys
    deployments = {d.name: d for d in app.deployments}
    assert sorted(deployments) == sorted(STAGES)
    for deployment in deployments.values():
        # Serve's default of 5 would queue requests in front of the batching stages.
        assert deployment.max_ongoing_requests >= 32
    gate = deployments["ArxivGate"]
    fetcher = deployments["ArxivFetcher"]
    auto = fetcher.autoscaling_config
    fetchers = auto["max_replicas"] if isinstance(auto, dict) else fetcher.num_replicas
    # Waiting searches hold gate slots; a release must find one free.
    assert gate.max_ongoing_requests > fetchers * fetcher.max_ongoing_requests
    assert gate.num_replicas == 1 and not isinstance(
        gate.autoscaling_config, dict | AutoscalingConfig
    )
    embedder = deployments["Embedder"]
    assert embedder.ray_actor_options.num_gpus == embedder_gpus
    assert embedder.user_config is not None
    assert embedder.max_ongoing_requests >= embedder.user_config["max_batch_size"]
    assert config["logging_config"]["encoding"] == "JSON"


def test_local_config_fits_two_cores_without_gpu() -> None:
    config = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    _check_serve_config(config, embedder_gpus=0)
    app = ServeDeploySchema.model_validate(config).applications[0]
    total = 0.0
    for d in app.deployments:
        replicas = d.num_replicas if isinstance(d.num_replicas, int) else None
        if replicas is None:
            auto = d.autoscaling_config
            replicas = auto["max_replicas"] if isinstance(auto, dict) else auto.max_replicas
        cpus = d.ray_actor_options.num_cpus
        total += replicas * (1.0 if cpus is None else cpus)  # Serve's default is one CPU
    assert total <= 2.0, f"the local graph asks for {total} CPUs at full scale"
    # Embedded Qdrant: one process may open a folder. Memory and the local index (the
    # fetcher's) are embedded here, so each runs exactly one replica.
    for owner in ("MemoryWriter", "ArxivFetcher"):
        stage = next(d for d in app.deployments if d.name == owner)
        assert stage.num_replicas == 1 and not isinstance(
            stage.autoscaling_config, dict | AutoscalingConfig
        ), owner


def _manifests() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((ROOT / "k8s" / "rayservice.yaml").read_text()) if d]


def test_rayservice_serve_config() -> None:
    (service,) = [m for m in _manifests() if m["kind"] == "RayService"]
    _check_serve_config(yaml.safe_load(service["spec"]["serveConfigV2"]), embedder_gpus=1)


def test_rayservice_matches_the_crd() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    crd = yaml.safe_load(shared_path("kuberay", "ray.io_rayservices.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    (service,) = [m for m in _manifests() if m["kind"] == "RayService"]
    jsonschema.validate(service, version["schema"]["openAPIV3Schema"])
    spec = service["spec"]["rayClusterConfig"]
    assert spec["rayVersion"] == "2.60.0"
    groups = {g["groupName"]: g for g in spec["workerGroupSpecs"]}
    gpu = groups["gpu"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert gpu["nvidia.com/gpu"] == 1


def test_rayservice_rejects_a_broken_manifest() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    crd = yaml.safe_load(shared_path("kuberay", "ray.io_rayservices.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    (service,) = [m for m in _manifests() if m["kind"] == "RayService"]
    service["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["replicas"] = "two"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(service, version["schema"]["openAPIV3Schema"])


def _ingest_job() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "k8s" / "ingest-rayjob.yaml").read_text())


def test_ingest_rayjob_matches_the_crd() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    crd = yaml.safe_load(shared_path("kuberay", "ray.io_rayjobs.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    jsonschema.validate(_ingest_job(), version["schema"]["openAPIV3Schema"])


def test_ingest_rayjob_runs_the_ingest_command_on_gpus() -> None:
    from deployments.index.ingest import build_parser

    job = _ingest_job()
    command = shlex.split(job["spec"]["entrypoint"])
    assert command[:3] == ["python", "-m", "deployments.index.ingest"]
    args = build_parser().parse_args(command[3:])
    groups = {g["groupName"]: g for g in job["spec"]["rayClusterSpec"]["workerGroupSpecs"]}
    gpus = sum(
        g["replicas"] * int(g["template"]["spec"]["containers"][0]["resources"]["limits"].get(
            "nvidia.com/gpu", 0))
        for g in groups.values()
    )  # fmt: skip
    assert args.gpus_per_actor == 1 and args.embed_actors == gpus  # one actor per GPU
    # Only the Qdrant key reaches the job's pods, and only as that one key.
    for pod in [job["spec"]["rayClusterSpec"]["headGroupSpec"], *groups.values()]:
        for container in pod["template"]["spec"]["containers"]:
            assert all("secretRef" not in source for source in container.get("envFrom", []))
