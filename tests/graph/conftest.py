"""Graph tier: a real Ray cluster, real ``serve.run`` of the five-stage graph, the real MiniLM,
real embedded Qdrant, and local stand-ins that speak arXiv's and OpenAI's protocols.

One Ray instance and Serve for the whole tier; each application gets its own stand-ins and its
own Qdrant folder. Every test here is marked ``graph`` (``make test-unit`` skips them).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from arm_dev.arxiv import SAMPLE_CORPUS, StandIn, load_records
from arm_dev.openai_standin import OpenAIStandIn

# Light CPU shares: several applications share the 2-core CI machine (Ray's CPUs are logical).
LIGHT = {"ray_actor_options": {"num_cpus": 0.05}, "max_ongoing_requests": 64}
TEST_OPTIONS: dict[str, dict[str, Any]] = {
    "Ingress": LIGHT,
    "ArxivFetcher": LIGHT,
    "Summarizer": LIGHT,
    "MemoryWriter": LIGHT,
    "Embedder": {
        "ray_actor_options": {"num_cpus": 0.25},
        "max_ongoing_requests": 64,
        "user_config": {"max_batch_size": 16, "batch_wait_timeout_s": 0.01},
    },
}


PROXY_CALLBACK = "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"
PROXY_ERRORS = "deployments.ingress.proxy_errors.middlewares"

SESSION: dict[str, Path] = {}  # where this run's Ray writes its logs (serve_url sets it)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.graph)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def serve_url() -> Iterator[str]:
    """Ray + Serve on a free port; everything is stopped (by this process) at the end."""
    import ray
    from ray import serve

    # As `make run` and the KubeRay ConfigMap: the proxy Ray starts here answers its own
    # errors in the arm's shape (read by the proxy process, which inherits this environment).
    os.environ[PROXY_CALLBACK] = PROXY_ERRORS
    context = ray.init(
        num_cpus=8,
        include_dashboard=False,
        namespace="research-arm-tests",
        runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}},
    )
    SESSION["dir"] = Path(context.address_info["session_dir"])
    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()


@dataclass
class App:
    """One deployed application and the stand-ins behind it."""

    name: str
    url: str
    arxiv: StandIn
    client: httpx.Client
    openai: OpenAIStandIn | None = None

    def handle(self, deployment: str) -> Any:
        from ray import serve

        return serve.get_deployment_handle(deployment, app_name=self.name)


def deploy(
    name: str,
    serve_url: str,
    tmp: Path,
    *,
    llm: Any = None,
    env: dict[str, str] | None = None,
    openai: OpenAIStandIn | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    **settings: Any,
) -> App:
    """The graph as application ``name`` at ``/name``, with a fresh arXiv stand-in; ``settings``
    are graph args, ``options`` Serve options per deployment over the tier's light ones."""
    from ray import serve

    from graph import build_app

    arxiv = StandIn(load_records([SAMPLE_CORPUS])).__enter__()
    args = {
        "arxiv_api_url": arxiv.url,
        "arxiv_min_interval_s": 0.0,
        "arxiv_num_retries": 1,
        "arxiv_backoff_base_s": 0.05,
        "qdrant_path": str(tmp / "qdrant"),
        "index_path": str(tmp / "index"),  # never the checkout's ./data/index
        "outbox_path": str(tmp / "outbox" / "memory.sqlite"),
        **settings,
    }
    options = {k: {**v, **(options or {}).get(k, {})} for k, v in TEST_OPTIONS.items()}
    if env:
        options["Ingress"] = {
            **options["Ingress"],
            "ray_actor_options": {"num_cpus": 0.05, "runtime_env": {"env_vars": env}},
        }
    serve.run(build_app(args, llm=llm, options=options), name=name, route_prefix=f"/{name}")
    client = httpx.Client(base_url=f"{serve_url}/{name}", timeout=120.0)
    return App(name, f"{serve_url}/{name}", arxiv, client, openai)


@pytest.fixture(scope="session")
def main_app(serve_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The default graph: extractive summaries, no auth."""
    app = deploy("main", serve_url, tmp_path_factory.mktemp("main"))
    yield app
    app.arxiv.__exit__()


@pytest.fixture(scope="session")
def llm_app(serve_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """Summaries from an OpenAI-compatible endpoint (a chatty stand-in); bearer auth on."""
    openai = OpenAIStandIn(chatty=True).__enter__()
    app = deploy(
        "llm",
        serve_url,
        tmp_path_factory.mktemp("llm"),
        openai=openai,
        env={"ARM_API_KEY": "test-key-123"},
        summarizer_backend="openai",
        openai_base_url=openai.base_url,
        summarizer_model="standin-model",
    )
    yield app
    app.arxiv.__exit__()
    openai.__exit__()


@pytest.fixture(scope="session")
def vllm_app(serve_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The vllm backend, with a stand-in bound where Ray Serve LLM's LLMServer goes (it takes
    and yields Ray Serve LLM's types: the tests using it are marked ``vllm``)."""
    from arm_dev.llm_standin import StandInLLMServer

    app = deploy(
        "vllm",
        serve_url,
        tmp_path_factory.mktemp("vllm"),
        llm=StandInLLMServer.bind(),
        summarizer_backend="vllm",
        summarizer_model="Qwen/Qwen2.5-0.5B-Instruct",
    )
    yield app
    app.arxiv.__exit__()
