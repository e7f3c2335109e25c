"""The application builder: ``serve_config.yaml``'s args -> the bound graph of seven deployments.

``serve run serve_config.yaml`` imports ``graph:app`` and calls it with the config's ``args``;
Serve validates them into ``GraphArgs``. The settings are resolved here, once (environment
variables over the args), and each stage is bound with its own slice of them: a stage never
sees another stage's settings, and no secret passes through ``bind()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from pydantic import ConfigDict
from ray.serve import Application, Deployment

from deployments.arxiv.fetcher_deployment import ArxivFetcher
from deployments.arxiv.gate_deployment import ArxivGate
from deployments.common.packaged_model import model_dimension
from deployments.embedder.deployment import Embedder
from deployments.ingress.deployment import Ingress
from deployments.memory.deployment import MemoryWriter
from deployments.reader.deployment import Reader
from deployments.summarizer.deployment import Summarizer
from models.settings import Settings, StageSettings


class GraphArgs(Settings):
    """Every ``Settings`` field, plus ``llm_config`` for the self-hosted vLLM summarizer.

    ``llm_config`` is passed to ``ray.serve.llm.LLMConfig`` (model_loading_config,
    engine_kwargs, deployment_config, accelerator_type) when ``summarizer_backend`` is ``vllm``.
    Secrets are refused here (unknown fields): they belong in the environment.
    """

    model_config = ConfigDict(extra="forbid")

    llm_config: dict[str, Any] | None = None


def resolve_settings(
    args: GraphArgs | Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> tuple[StageSettings, dict[str, Any] | None]:
    """Each stage's settings (environment over ``args``) and the ``llm_config``."""
    graph_args = args if isinstance(args, GraphArgs) else GraphArgs.model_validate(args or {})
    given = graph_args.model_dump(exclude={"llm_config"}, exclude_unset=True)
    settings = Settings.load(given, environ).resolved()
    if settings.embedding_dimension is None:  # read once here, so no stage asks the Embedder
        dimension = model_dimension(settings.embedding_model)
        settings = settings.model_copy(update={"embedding_dimension": dimension})
    stages = settings.for_stages()
    llm_config = graph_args.llm_config
    if stages.summarizer.backend == "vllm" and stages.summarizer.model is None and llm_config:
        # The request's model is the one the LLM deployment serves.
        model_id = (llm_config.get("model_loading_config") or {}).get("model_id")
        summarizer = stages.summarizer.model_copy(update={"model": model_id})
        stages = stages.model_copy(update={"summarizer": summarizer})
    return stages, llm_config


def _stage(decorated: object, options: Mapping[str, Mapping[str, Any]] | None) -> Deployment:
    """A stage as ``@serve.deployment`` made it (mypy only sees the class), with options."""
    deployment = cast(Deployment, decorated)
    given = (options or {}).get(deployment.name)
    return deployment.options(**given) if given else deployment


def build_app(
    args: GraphArgs | Mapping[str, Any] | None = None,
    *,
    llm: Application | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Application:
    """Bind the graph.

    ``llm`` replaces the Ray Serve LLM deployment (tests bind a stand-in). ``options`` maps a
    stage's name to ``Deployment.options`` (replicas, ray_actor_options, user_config...) for
    callers that run the graph without a config file; ``serve_config.yaml`` sets the same for
    ``serve run``. ``environ`` replaces ``os.environ`` (tests).
    """
    stages, llm_config = resolve_settings(args, environ)
    gate = _stage(ArxivGate, options).bind(stages.gate)
    embedder = _stage(Embedder, options).bind(stages.embedder)
    fetcher = _stage(ArxivFetcher, options).bind(stages.arxiv, gate)
    if stages.summarizer.backend == "vllm" and llm is None:
        llm = _vllm_deployment(llm_config, stages.summarizer.model)
    summarizer = _stage(Summarizer, options).bind(stages.summarizer, embedder, llm)
    memory = _stage(MemoryWriter, options).bind(stages.memory)
    reader = _stage(Reader, options).bind(stages.reader, gate, embedder)
    return _stage(Ingress, options).bind(
        stages.ingress, fetcher, embedder, summarizer, memory, reader
    )


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
