"""The application builder: typed args (``serve_config.yaml``) -> the bound five-stage graph.

``serve run serve_config.yaml`` imports ``graph:app`` and calls it with the config's ``args``;
Serve validates them into ``GraphArgs``. Environment variables override the args (DESIGN.md's
contract), here for the graph's shape and again in each replica for its own settings.
"""

from typing import Any, cast

from pydantic import ConfigDict
from ray.serve import Application, Deployment

from deployments.arxiv_fetcher import ArxivFetcher
from deployments.embedder import Embedder
from deployments.ingress import Ingress
from deployments.memory_writer import MemoryWriter
from deployments.summarizer import Summarizer
from models.settings import SECRET_FIELDS, Settings


class GraphArgs(Settings):
    """Every ``Settings`` field, plus ``llm_config`` for the self-hosted vLLM summarizer.

    ``llm_config`` is passed to ``ray.serve.llm.LLMConfig`` (model_loading_config,
    engine_kwargs, deployment_config, accelerator_type) when ``summarizer_backend`` is ``vllm``.
    """

    model_config = ConfigDict(extra="forbid")

    llm_config: dict[str, Any] | None = None


def _stage(decorated: object, options: dict[str, dict[str, Any]] | None = None) -> Deployment:
    """A stage as ``@serve.deployment`` made it (mypy only sees the class), with options."""
    deployment = cast(Deployment, decorated)
    given = (options or {}).get(deployment.name)
    return deployment.options(**given) if given else deployment


def build_app(
    args: GraphArgs | dict[str, Any] | None = None,
    *,
    llm: Application | None = None,
    options: dict[str, dict[str, Any]] | None = None,
) -> Application:
    """Bind the graph.

    ``llm`` replaces the Ray Serve LLM deployment (tests bind a stand-in). ``options`` maps a
    stage's name to ``Deployment.options`` (replicas, ray_actor_options...) for callers that run
    the graph without a config file; ``serve_config.yaml`` sets the same for ``serve run``.
    """
    graph_args = args if isinstance(args, GraphArgs) else GraphArgs.model_validate(args or {})
    given = graph_args.model_dump(exclude={"llm_config", *SECRET_FIELDS}, exclude_unset=True)
    settings = Settings.load(given).resolved()
    public = settings.public_args()

    fetcher = _stage(ArxivFetcher, options).bind(public)
    embedder = _stage(Embedder, options).bind(public)
    if settings.summarizer_backend == "vllm" and llm is None:
        llm = _vllm_deployment(graph_args.llm_config, settings.summarizer_model)
    summarizer = _stage(Summarizer, options).bind(public, embedder, llm)
    memory = _stage(MemoryWriter, options).bind(public, embedder)
    return _stage(Ingress, options).bind(public, fetcher, embedder, summarizer, memory)


def _vllm_deployment(llm_config: dict[str, Any] | None, model: str | None) -> Application:
    """Ray Serve LLM's own vLLM deployment (``pip install .[vllm]``; imported only here)."""
    from ray.serve.llm import LLMConfig, build_llm_deployment

    config = dict(llm_config or {})
    if model and "model_loading_config" not in config:
        config["model_loading_config"] = {"model_id": model, "model_source": model}
    if "model_loading_config" not in config:
        raise ValueError(
            "summarizer_backend vllm needs llm_config.model_loading_config or SUMMARIZER_MODEL"
        )
    return build_llm_deployment(LLMConfig(**config), name_prefix="SummarizerLLM:")


def app(args: GraphArgs) -> Application:
    """``import_path: graph:app``; Serve validates the config's args into GraphArgs."""
    return build_app(args)
