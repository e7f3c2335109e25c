"""Ingress: the FastAPI app served by Serve; each route hands its work to a core."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime,
# and Serve's class-based ingress cannot resolve them from strings.
import time
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.ingress import handles
from deployments.ingress.app import app
from deployments.ingress.auth import require_bearer
from deployments.ingress.capabilities import capability_manifest
from deployments.ingress.health import StageStates
from deployments.ingress.http_errors import request_id
from deployments.ingress.pipeline import ResearchPipeline
from models.health import CapabilityManifest, HealthStatus
from models.research import (
    ErrorBody,
    MemorySearchRequest,
    MemorySearchResponse,
    ResearchRequest,
    ResearchResponse,
)
from models.settings import IngressSettings

ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (400, 401, 422, 503)}
AUTH = [Depends(require_bearer)]  # 401 unless the bearer token matches ARM_API_KEY (if set)


@serve.deployment(name="Ingress")
@serve.ingress(app)
class Ingress:
    def __init__(
        self,
        settings: IngressSettings,
        fetcher: DeploymentHandle,
        embedder: DeploymentHandle,
        summarizer: DeploymentHandle,
        memory: DeploymentHandle,
    ) -> None:
        self.configured = self.settings = settings  # tuning starts from the configured values
        self.pipeline = ResearchPipeline(
            handles.FetcherHandle(fetcher),
            handles.EmbedderHandle(embedder),
            handles.SummarizerHandle(summarizer),
            handles.MemoryHandle(memory),
            arm_id=settings.arm_id,
            max_candidates=settings.max_candidates,
            query_cache_size=settings.tuning.query_cache_size,
        )
        app_name = serve.get_replica_context().app_name
        self.stage_states = StageStates(
            settings.arm_id, lambda: serve.status().applications[app_name]
        )

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """``query_cache_size``: query vectors kept."""
        self.settings = self.configured.tuned(user_config)
        self.pipeline.query_vectors.resize(self.settings.tuning.query_cache_size)

    @app.post("/execute", response_model=ResearchResponse, responses=ERRORS, dependencies=AUTH)
    async def execute_research(self, body: ResearchRequest, request: Request) -> JSONResponse:
        """Search arXiv, rank by meaning, summarise and remember the best papers."""
        started = time.perf_counter()
        response = await self.pipeline.execute(body, request_id(request))
        metrics = request.app.state.metrics
        metrics.record(len(response.papers), time.perf_counter() - started)
        metrics.reused(response.provenance.cache.get("summaries_reused", 0))
        return JSONResponse(response.model_dump(mode="json"))

    @app.post(
        "/memory/search", response_model=MemorySearchResponse, responses=ERRORS, dependencies=AUTH
    )
    async def search_memory(self, body: MemorySearchRequest) -> JSONResponse:
        """Semantic search over the papers the arm has stored."""
        result = await self.pipeline.memory_search(body)
        return JSONResponse(result.model_dump(mode="json"))

    @app.get("/health", response_model=HealthStatus)
    async def get_health(self) -> JSONResponse:
        """Each stage's state as Serve sees it, and what the local index holds; never arXiv."""
        report = await self.stage_states.report()
        report = report.model_copy(update={"search": await self.pipeline.search_info()})
        status = 503 if report.status == "down" else 200
        return JSONResponse(report.model_dump(mode="json"), status)

    @app.get("/capabilities", response_model=CapabilityManifest)
    async def get_capabilities(self, request: Request) -> CapabilityManifest:
        """What the arm does, its endpoints, limits and the JSON schemas of /execute."""
        manifest = capability_manifest(
            self.settings.arm_id,
            await self.pipeline.stage_models(),
            auth_required=request.app.state.auth.required,
            arxiv_min_interval_s=self.settings.arxiv_min_interval_s,
        )
        return manifest.model_copy(update={"search": await self.pipeline.search_info()})

    def check_health(self) -> None:
        """Nothing of its own can go stale (no model, store or connection): answering is the
        check, and a blocked event loop fails it by timing out."""
