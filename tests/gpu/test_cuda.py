"""What only a GPU can show: the embedder on CUDA agrees with the CPU, and real vLLM summarises."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

TEXTS = [
    "Graph neural networks for molecular property prediction.",
    "Quantum error correction with surface codes and neural decoders.",
    "Weak lensing masses of galaxy clusters.",
]


def test_embedder_on_cuda_matches_cpu() -> None:
    from deployments.embedder.text_embedder import TextEmbedder

    gpu = TextEmbedder(device="cuda").embed(TEXTS)
    cpu = TextEmbedder(device="cpu").embed(TEXTS)
    assert gpu.shape == cpu.shape == (3, 384)
    cosine = (gpu * cpu).sum(axis=1)
    assert np.all(cosine > 0.999)


def test_graph_gives_the_embedder_a_gpu_from_the_config(tmp_path: Path) -> None:
    from ray import serve

    from arm_dev.harness import arxiv_standin, deploy_graph, graph_args, serve_started

    on_gpu = {"Embedder": {"ray_actor_options": {"num_cpus": 1, "num_gpus": 1}}}
    with serve_started(proxy_errors=True, num_cpus=8), arxiv_standin() as arxiv:
        deploy_graph("gpu", graph_args(arxiv.url, tmp_path), options=on_gpu)
        info = serve.get_deployment_handle("Embedder", app_name="gpu").info.remote().result()
    assert info.device == "cuda"


@pytest.mark.vllm
def test_real_vllm_summarizer_in_the_graph(tmp_path: Path) -> None:
    """Ray Serve LLM's real vLLM deployment behind the vllm backend, on the GPU.

    SUMMARIZER_MODEL may name a local instruct model's folder (its TLDRs are then checked for
    shape); otherwise the tiny random model of arm_dev.tiny_llm (nothing is downloaded).
    """
    import httpx

    from arm_dev.harness import arxiv_standin, deploy_graph, graph_args, serve_started
    from arm_dev.tiny_llm import build_tiny_llm

    given = os.environ.get("SUMMARIZER_MODEL")
    model = Path(given) if given else build_tiny_llm(tmp_path / "tiny-llm")
    if not model.is_dir():
        pytest.skip(f"SUMMARIZER_MODEL={given} is not a local model folder")
    llm_config = {
        "model_loading_config": {"model_id": "local-tldr", "model_source": str(model)},
        "engine_kwargs": {"max_model_len": 1024, "gpu_memory_utilization": 0.5},
        "deployment_config": {"num_replicas": 1},
    }
    with serve_started(proxy_errors=True) as cluster, arxiv_standin() as arxiv:
        # The vllm backend; the model id comes from llm_config.
        args = graph_args(arxiv.url, tmp_path, summarizer_backend="vllm", llm_config=llm_config)
        deploy_graph("vllm", args)
        body = httpx.post(
            f"{cluster.url}/vllm/execute",
            timeout=600,
            json={"query": "surface code decoding", "max_papers": 1},
        ).json()
    assert body["provenance"]["models"]["summarizer"] == "vllm:local-tldr"
    summary = body["papers"][0]["summary"]
    assert summary and "<think>" not in summary
    if given:  # a real instruct model writes a TLDR
        assert 5 <= len(summary.split()) <= 40
