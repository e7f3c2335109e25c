"""The RayServices' serveConfigV2 is serve_config.yaml plus overlays (k8s/generate.py): the
manifests match what the generator writes, the overlays merge as documented, and the vLLM
variant's llm_config is one Ray Serve LLM accepts."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from graph import resolve_settings
from k8s import generate
from tests.conftest import ROOT


def _docs(manifest: str, root: Path = ROOT) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((root / manifest).read_text()) if d]


def _service(manifest: str, root: Path = ROOT) -> dict[str, Any]:
    (service,) = [d for d in _docs(manifest, root) if d["kind"] == "RayService"]
    return service


def _serve_config(manifest: str, root: Path = ROOT) -> dict[str, Any]:
    return dict(yaml.safe_load(_service(manifest, root)["spec"]["serveConfigV2"]))


def _args(manifest: str, root: Path = ROOT) -> dict[str, Any]:
    return dict(_serve_config(manifest, root)["applications"][0]["args"])


def _ray_containers(manifest: str) -> list[dict[str, Any]]:
    cluster = _service(manifest)["spec"]["rayClusterConfig"]
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    return [c for g in groups for c in g["template"]["spec"]["containers"]]


def test_manifests_match_the_generated_config() -> None:
    # Fails when serve_config.yaml or an overlay changed without `python -m k8s.generate`, or
    # when someone edited a generated block by hand.
    assert generate.stale() == [], "run `python -m k8s.generate` and commit the manifests"
    for manifest, overlays in generate.TARGETS.items():
        assert _serve_config(manifest) == generate.serve_config(overlays)
    assert generate.main(["--check"]) == 0


def test_check_catches_a_change_in_the_local_config(tmp_path: Path) -> None:
    shutil.copy(ROOT / generate.BASE, tmp_path / generate.BASE)
    shutil.copytree(ROOT / "k8s", tmp_path / "k8s", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "monitoring", tmp_path / "monitoring")
    assert generate.stale(tmp_path) == []
    base = tmp_path / generate.BASE
    base.write_text(base.read_text().replace("summary_max_words: 40", "summary_max_words: 30"))
    assert generate.stale(tmp_path) == list(generate.TARGETS)  # both manifests follow the base
    assert generate.write(tmp_path) == list(generate.TARGETS)
    assert generate.stale(tmp_path) == []
    for manifest in generate.TARGETS:
        assert _args(manifest, tmp_path)["summary_max_words"] == 30
    # Outside the markers nothing moved.
    for manifest in generate.TARGETS:
        ours, theirs = (ROOT / manifest).read_text(), (tmp_path / manifest).read_text()
        assert ours.split(generate.END)[1] == theirs.split(generate.END)[1]
        assert ours.split(generate.BEGIN)[0] == theirs.split(generate.BEGIN)[0]


def test_check_catches_an_alert_changed_without_its_prometheus_rule(tmp_path: Path) -> None:
    shutil.copy(ROOT / generate.BASE, tmp_path / generate.BASE)
    shutil.copytree(ROOT / "k8s", tmp_path / "k8s", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "monitoring", tmp_path / "monitoring")
    alerts = tmp_path / generate.ALERT_RULES
    alerts.write_text(alerts.read_text().replace("for: 5m", "for: 7m", 1))
    assert generate.stale(tmp_path) == [generate.ALERTS]
    assert generate.write(tmp_path) == [generate.ALERTS]
    assert "for: 7m" in (tmp_path / generate.ALERTS).read_text()


def test_merge_rules() -> None:
    base: dict[str, Any] = {
        "a": 1,
        "keep": {"x": 1, "y": 2},
        "tags": [1, 2],
        "applications": [{"name": "app", "deployments": [{"name": "D", "n": 1, "m": 2}]}],
    }
    overlay = {
        "a": None,  # removed
        "keep": {"y": 3},  # merged key by key
        "tags": [9],  # replaced
        "applications": [{"name": "app", "deployments": [{"name": "D", "n": None, "k": 4}]}],
    }
    merged = generate.merge(base, overlay)
    assert merged == {
        "keep": {"x": 1, "y": 3},
        "tags": [9],
        "applications": [{"name": "app", "deployments": [{"name": "D", "m": 2, "k": 4}]}],
    }
    assert base["a"] == 1 and base["applications"][0]["deployments"][0]["n"] == 1  # unchanged
    with pytest.raises(generate.OverlayError, match="Embeder"):  # a typo is an error
        generate.merge(
            base, {"applications": [{"name": "app", "deployments": [{"name": "Embeder"}]}]}
        )
    with pytest.raises(generate.OverlayError, match="qdrant_pth"):
        generate.merge(base, {"qdrant_pth": None})


def test_splice_needs_its_markers() -> None:
    with pytest.raises(ValueError, match="serveConfigV2"):
        generate.splice("spec:\n  serveConfigV2: |\n    a: 1\n", "a: 2\n")


def test_cluster_config_uses_the_qdrant_server() -> None:
    for manifest in generate.TARGETS:
        config = _serve_config(manifest)
        assert (
            config["proxy_location"] == "EveryNode" and config["http_options"]["host"] == "0.0.0.0"
        )
        args = _args(manifest)
        # QDRANT_URL from the pods: no local folders on a cluster.
        assert "qdrant_path" not in args and "index_path" not in args
        assert args["arxiv_source"] == "hybrid" and args["index_collection"] == "arxiv_index"
        stages, _ = resolve_settings(args, environ={"QDRANT_URL": "http://qdrant:6333"})
        assert stages.memory.qdrant_url == stages.arxiv.index.qdrant_url == "http://qdrant:6333"


def _llm_config_class() -> Any:
    try:
        from ray.serve.llm import LLMConfig  # needs vLLM (pip install .[vllm])

        return LLMConfig
    except ImportError:
        pass
    try:  # the same pydantic model, importable without vLLM
        from ray.llm._internal.serve.core.configs.llm_config import LLMConfig as Internal

        return Internal
    except ImportError:
        pytest.skip("Ray Serve LLM's LLMConfig is not importable here")


def test_vllm_variant_runs_ray_serve_llm() -> None:
    args = _args("k8s/rayservice-vllm.yaml")
    llm_config = args["llm_config"]
    LLMConfig = _llm_config_class()
    config = LLMConfig(**llm_config)
    loading = config.model_loading_config
    model_id = loading["model_id"] if isinstance(loading, dict) else loading.model_id
    assert model_id == llm_config["model_loading_config"]["model_id"]
    with pytest.raises(ValueError):  # the model is strict: a misspelt field would not pass
        LLMConfig(**llm_config, engine_kwarg={})
    # The Summarizer asks vLLM for the model it serves (no SUMMARIZER_MODEL in the config).
    stages, resolved = resolve_settings(args, environ={})
    assert stages.summarizer.backend == "vllm" and resolved == llm_config
    assert stages.summarizer.model == model_id
    # The CPU manifest's args are the vLLM one's but for the summarizer.
    cpu = _args("k8s/rayservice.yaml")
    assert cpu.pop("summarizer_backend") == "extractive"
    assert {k: v for k, v in args.items() if k not in ("summarizer_backend", "llm_config")} == cpu


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def test_no_offline_switch_where_the_model_is_downloaded() -> None:
    # vLLM variant: the builder on the head reads the model's config and the GPU pods download
    # its weights, so no pod may run with HF_HUB_OFFLINE (from env, ConfigMap or the image).
    vllm = "k8s/rayservice-vllm.yaml"
    for container in _ray_containers(vllm):
        assert "HF_HUB_OFFLINE" not in _env(container)
    for doc in _docs(vllm):
        if doc["kind"] == "ConfigMap":
            assert "HF_HUB_OFFLINE" not in doc["data"]
    assert "ENV HF_HUB_OFFLINE" not in (ROOT / "Dockerfile").read_text()
    # One image on every pod (Ray needs one Python across nodes; ray-llm's is not the CPU one's).
    assert len({c["image"] for c in _ray_containers(vllm)}) == 1
    # The CPU service downloads nothing: every Ray pod stays offline.
    for container in _ray_containers("k8s/rayservice.yaml"):
        assert _env(container)["HF_HUB_OFFLINE"] == "1"


def test_both_services_share_one_configmap() -> None:
    maps = [[d for d in _docs(m) if d["kind"] == "ConfigMap"] for m in generate.TARGETS]
    assert all(len(m) == 1 for m in maps)
    assert maps[0] == maps[1]
