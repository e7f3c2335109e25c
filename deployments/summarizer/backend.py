"""What every summarizer backend is, the one place that builds one from settings, and the
checked call (deadline, faithfulness) every summary goes through."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from arm_client.models import ArmWarning, WarningCode
from deployments.summarizer.extractive import EmbedFn, ExtractiveSummarizer
from deployments.summarizer.faithfulness import faithfulness_issues
from deployments.summarizer.llm import OpenAIChatSummarizer, VLLMSummarizer
from models.contracts import SummaryOutcome
from models.errors import StageError
from models.settings import SummarizerSettings


class SummaryBackend(Protocol):
    """A TLDR maker. ``max_words`` may change between calls (live tuning)."""

    name: str
    max_words: int

    @property
    def model_name(self) -> str: ...

    async def summarize(self, title: str, abstract: str) -> str: ...

    async def check(self) -> None:
        """Raise when the backend cannot summarise (model gone, endpoint or engine down)."""
        ...

    async def aclose(self) -> None: ...


async def summarize_checked(
    backend: SummaryBackend, title: str, abstract: str, timeout_s: float
) -> SummaryOutcome:
    """Run a backend with a deadline and a faithfulness check; failures become a warning."""

    def failed(code: WarningCode, message: str) -> SummaryOutcome:
        warning = ArmWarning(code=code, stage="summarizer", message=message)
        return SummaryOutcome(None, backend.name, backend.model_name, [warning])

    try:
        text = await asyncio.wait_for(backend.summarize(title, abstract), timeout=timeout_s)
    except TimeoutError:
        return failed("summary_timed_out", f"summary timed out after {timeout_s:.0f}s")
    except StageError as exc:
        return failed("summary_failed", f"summary failed: {exc.message}")
    except Exception as exc:  # a stage it calls died (Embedder, LLM): still only a warning
        return failed("summary_failed", f"summary failed: {type(exc).__name__}")
    issues = faithfulness_issues(text, abstract, title) if backend.name != "extractive" else []
    warnings = [
        ArmWarning(
            code="summary_unfaithful", stage="summarizer", message=f"summary may be unfaithful: {i}"
        )
        for i in issues
    ]
    return SummaryOutcome(text, backend.name, backend.model_name, warnings)


def make_backend(
    settings: SummarizerSettings,
    *,
    embed: EmbedFn | None = None,
    llm: Any | None = None,
    openai_api_key: str | None = None,
) -> SummaryBackend:
    """The backend the settings name, wired to what it needs: ``embed`` (sentence vectors, for
    ``extractive``), ``llm`` (a handle to an LLMServer, for ``vllm``) or the endpoint's key
    (``openai``). Raises ValueError when what it needs is missing."""
    max_words = settings.tuning.max_words
    if settings.backend == "openai":
        if not settings.openai_base_url:
            raise ValueError("SUMMARIZER_BACKEND=openai needs OPENAI_BASE_URL")
        return OpenAIChatSummarizer(
            settings.openai_base_url,
            settings.model or "default",
            api_key=openai_api_key,
            max_words=max_words,
            timeout_s=settings.tuning.timeout_s,
        )
    if settings.backend == "vllm":
        if llm is None:
            raise ValueError("SUMMARIZER_BACKEND=vllm needs the LLM deployment bound in the graph")
        if not settings.model:  # graph.py sets it from llm_config's model_id
            raise ValueError(
                "SUMMARIZER_BACKEND=vllm needs the served model's id: "
                "llm_config.model_loading_config.model_id or SUMMARIZER_MODEL"
            )
        return VLLMSummarizer(llm, settings.model, max_words=max_words)
    if embed is None:
        raise ValueError("the extractive summarizer needs sentence vectors (the Embedder)")
    return ExtractiveSummarizer(
        embed, max_words=max_words, context="shipped" if settings.context else None
    )
