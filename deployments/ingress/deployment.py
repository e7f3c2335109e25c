"""Ingress: the FastAPI app served by Serve; each route hands its work to a core."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime,
# and Serve's class-based ingress cannot resolve them from strings.
import asyncio
import time
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.common.lifetime import on_shutdown
from deployments.ingress.flow import handles
from deployments.ingress.http.app import app
from deployments.ingress.http.auth import require_bearer
from deployments.ingress.http.capabilities import capability_manifest
from deployments.ingress.http.edge_settings import configure_edge
from deployments.ingress.http.errors import request_id
from deployments.ingress.http.health import StageStates
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
AUTH = [Depends(require_bearer)]  # every route but /health: 401 unless the token matches


@serve.deployment(name="Ingress")
@serve.ingress(app)
class Ingress:
    async def __init__(  # type: ignore[misc]  # Serve awaits an async constructor
        self,
        settings: IngressSettings,
        fetcher: DeploymentHandle,
        embedder: DeploymentHandle,
        summarizer: DeploymentHandle,
        memory: DeploymentHandle,
    ) -> None:
        self.configured = self.settings = settings  # tuning starts from the configured values
        self.pipeline = handles.research_pipeline(settings, fetcher, embedder, summarizer, memory)
        configure_edge(settings.max_in_flight, settings.docs)  # Admission's bound, /docs on/off
        # Writes memory did not take wait in the outbox; this hands them over until they land.
        self._drainer = asyncio.create_task(self.pipeline.drain_outbox())
        # What serves each stage, for provenance: learned once, off the request path.
        self._models = asyncio.create_task(self.pipeline.stage_info.learn_models())
        self.stage_states = StageStates.of_this_application(settings.arm_id)

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
        report = report.model_copy(update={"search": await self.pipeline.stage_info.search()})
        status = 503 if report.status == "down" else 200
        return JSONResponse(report.model_dump(mode="json"), status)

    @app.get(
        "/capabilities", response_model=CapabilityManifest, responses=ERRORS, dependencies=AUTH
    )
    async def get_capabilities(self, request: Request) -> CapabilityManifest:
        """What the arm does, its endpoints, limits and the JSON schemas of /execute."""
        info, auth = self.pipeline.stage_info, request.app.state.auth
        manifest = capability_manifest(self.settings, info.models, auth.required)
        return manifest.model_copy(update={"search": await info.search()})

    def check_health(self) -> None:
        """Answering is the check (nothing of its own can go stale; a blocked loop times out)."""

    async def release(self) -> None:
        """Stop handing over the outbox's writes (they stay on disk for the next replica)."""
        self._drainer.cancel()
        self._models.cancel()
        self.pipeline.close()

    _shutdown = on_shutdown(release)

    async def __del__(self) -> None:
        # Serve's ingress wrapper awaits a user __del__ only when it is a coroutine function.
        if (released := self._shutdown()) is not None:
            await released
