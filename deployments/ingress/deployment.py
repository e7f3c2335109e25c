"""Ingress: the FastAPI app (``http``) served by Serve over the request flow (``flow``).

The routes are the app's own, one module per resource (``http.routes``); this class only
builds the replica's flow over the stages' handles, hands it to them (``http.replica``), keeps
the outbox drained and the stages' models learned, and releases it all at shutdown.
"""

# No `from __future__ import annotations`: Serve's class-based ingress reads annotations at
# runtime.
import asyncio
from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.common.lifetime import on_shutdown
from deployments.common.metrics import OutboxMetrics
from deployments.ingress.flow import handles
from deployments.ingress.http.app import app
from deployments.ingress.http.health import StageStates
from deployments.ingress.http.replica import serve_replica, tune_replica
from models.settings import IngressSettings


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
        reader: DeploymentHandle | None = None,
    ) -> None:
        self.configured = self.settings = settings  # tuning starts from the configured values
        self.pipeline = handles.research_pipeline(
            settings, fetcher, embedder, summarizer, memory, reader
        )
        states = StageStates.of_this_application(settings.arm_id)
        serve_replica(settings, self.pipeline, states)  # what the routes and middleware read
        # Writes memory did not take wait in the outbox; this hands them over until they land.
        outbox_metrics = OutboxMetrics()
        self._drainer = asyncio.create_task(self.pipeline.drain_outbox(outbox_metrics.report))
        # What serves each stage, for provenance: learned once, off the request path.
        self._models = asyncio.create_task(self.pipeline.stage_info.learn_models())

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """``query_cache_size``: query vectors kept."""
        self.settings = self.configured.tuned(user_config)
        self.pipeline.query_vectors.resize(self.settings.tuning.query_cache_size)
        tune_replica(self.settings)

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
