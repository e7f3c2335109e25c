"""Summarizer: the configured backend served by Serve; one paper per call."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.common.lifetime import on_shutdown
from deployments.common.logs import arm_logger, log_event
from deployments.common.metrics import SummarizerMetrics
from deployments.common.process import configure_model_process
from deployments.summarizer.backend import make_backend, summarize_checked
from deployments.summarizer.shared_summaries import SharedSummaries
from models.contracts import SummarizerInfo, SummaryOutcome
from models.settings import SummarizerSettings, read_secret

logger = arm_logger(__name__)


@serve.deployment(name="Summarizer")
class Summarizer:
    def __init__(
        self,
        settings: SummarizerSettings,
        embedder: DeploymentHandle | None = None,
        llm: DeploymentHandle | None = None,
    ) -> None:
        configure_model_process()

        async def embed(texts: list[str]) -> np.ndarray:
            assert embedder is not None
            return await embedder.embed.remote(texts)

        key = read_secret("openai_api_key") if settings.backend == "openai" else None
        self.backend = make_backend(
            settings,
            embed=embed if embedder is not None else None,
            llm=llm,
            openai_api_key=key.get_secret_value() if key else None,
        )
        self.configured = self.settings = settings  # tuning starts from the configured values
        self.shared = SharedSummaries(settings.tuning.cache_size)
        self.metrics = SummarizerMetrics()
        log_event(
            logger,
            logging.INFO,
            "summarizer.ready",
            backend=self.backend.name,
            model=self.backend.model_name,
        )

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """``max_words``, ``timeout_s`` (s), ``cache_size`` (summaries); kept summaries made
        under another word budget are dropped."""
        before = self.settings.tuning
        self.settings = self.configured.tuned(user_config)
        tuning = self.settings.tuning
        self.backend.max_words = tuning.max_words
        if tuning.max_words != before.max_words:
            self.shared.clear()  # made for the old budget
        self.shared.resize(tuning.cache_size)

    async def summarize(self, title: str, abstract: str) -> SummaryOutcome:
        """A TLDR of one paper; a failure is an outcome with a warning, never an exception."""
        with self.metrics.call() as call:
            outcome, shared = await self.shared.get(
                SharedSummaries.key(title, abstract),
                lambda: summarize_checked(
                    self.backend, title, abstract, self.settings.tuning.timeout_s
                ),
            )
            call.items = 0 if shared else 1
        made = bool(outcome.summary)
        unfaithful = made and any(w.code == "summary_unfaithful" for w in outcome.warnings)
        self.metrics.summary(made=made, shared=shared, unfaithful=unfaithful)
        return outcome

    def info(self) -> SummarizerInfo:
        """The backend and model this replica summarises with."""
        return SummarizerInfo(backend=self.backend.name, model=self.backend.model_name)

    async def check_health(self) -> None:
        await self.backend.check()

    async def release(self) -> None:
        """Close the backend's client (an LLM endpoint's connections)."""
        await self.backend.aclose()

    __del__ = on_shutdown(release)
