"""Graph tier: a real Ray cluster, real ``serve.run`` of the whole graph, the real MiniLM,
real embedded Qdrant, and local stand-ins that speak arXiv's and OpenAI's protocols.

One Ray instance and Serve for the whole tier; each application gets its own stand-ins and its
own Qdrant folder. Every test here is marked ``graph`` (``make test-unit`` skips them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from arm_dev.arxiv import StandIn
from arm_dev.harness import (
    PROXY_CALLBACK,
    PROXY_ERRORS,
    TEST_ARGS,
    TEST_OPTIONS,
    arxiv_standin,
    deploy_graph,
    free_port,
    graph_args,
    light_options,
    serve_started,
)
from arm_dev.openai_standin import OpenAIStandIn

# What the tier's tests import from here (the harness holds them): the light Serve options, the
# proxy's error callback, a free port.
__all__ = ["PROXY_CALLBACK", "PROXY_ERRORS", "TEST_OPTIONS", "App", "_free_port", "deploy"]
_free_port = free_port

SESSION: dict[str, Path] = {}  # where this run's Ray writes its logs (serve_url sets it)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.graph)


@pytest.fixture(scope="session")
def serve_url() -> Iterator[str]:
    """Ray + Serve on a free port; everything is stopped (by this process) at the end."""
    # As `make run` and the KubeRay ConfigMap: the proxy Ray starts here answers its own
    # errors in the arm's shape.
    with serve_started(
        proxy_errors=True,
        num_cpus=8,
        include_dashboard=False,
        namespace="research-arm-tests",
        runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}},
    ) as cluster:
        SESSION["dir"] = cluster.session_dir
        yield cluster.url


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
    arxiv = arxiv_standin().__enter__()
    args = graph_args(arxiv.url, tmp, outbox="outbox/memory.sqlite", **{**TEST_ARGS, **settings})
    deploy_graph(name, args, llm=llm, options=light_options(options, env))
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
