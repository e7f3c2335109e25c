"""Summarizer stage: a one-sentence TLDR of a paper from its title and abstract.

Backends (``SUMMARIZER_BACKEND``):
    extractive  CPU default. Splits the abstract into sentences, embeds them through the Embedder
                deployment (shared batches), scores each with a small linear model over sentence
                vectors, position and cue phrases, and compresses the best one to TLDR length.
                Deterministic.
    vllm        self-hosted vLLM inside the graph through Ray Serve LLM (``LLMServer.chat``).
    openai      any OpenAI-compatible chat endpoint (``OPENAI_BASE_URL``), e.g. ``vllm serve``.

Every backend's output goes through ``faithfulness_issues``: a summary that names a number or a
term the abstract does not contain is returned with a warning, never silently.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np

from deployments.errors import StageError

logger = logging.getLogger(__name__)

EmbedFn = Callable[[list[str]], Awaitable[np.ndarray]]

TLDR_WORDS = 20  # SciTLDR's reference TLDRs average about 19-23 words
SYSTEM_PROMPT = (
    "You write TLDRs of scientific papers: one sentence of about {words} words that states the "
    "paper's main contribution or finding. Use only facts from the abstract. Answer with the "
    "sentence alone: no preamble, no quotes, no markdown."
)
USER_PROMPT = "Title: {title}\n\nAbstract: {abstract}\n\nTLDR:"

# --------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------

_ABBREVIATIONS = (
    "e.g.",
    "i.e.",
    "et al.",
    "etc.",
    "vs.",
    "cf.",
    "fig.",
    "figs.",
    "eq.",
    "eqs.",
    "sec.",
    "ref.",
    "refs.",
    "approx.",
    "resp.",
    "no.",
    "dr.",
    "prof.",
    "st.",
    "al.",
)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9(\"'\[])")


def split_sentences(text: str) -> list[str]:
    """Sentences of an abstract; abbreviations (e.g., et al.) and decimals do not split."""
    text = " ".join(text.split())
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start : match.start()].strip()
        last_word = candidate.rsplit(" ", 1)[-1].lower().lstrip("([{\"'")
        if last_word in _ABBREVIATIONS or re.fullmatch(r"[a-z]\.", last_word):
            continue  # "et al." / "Fig." / an initial: not the end of a sentence
        sentences.append(candidate)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]


def words(text: str) -> list[str]:
    return text.split()


_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_PREAMBLE = re.compile(
    r"^\s*(?:\*\*)?(?:here(?:'s| is)[^:\n]*:|sure[,!.][^:\n]*:|tl;?dr\s*[:\-]|tldr\s*[:\-]|"
    r"summary\s*[:\-]|one[- ]sentence summary\s*[:\-])(?:\*\*)?\s*",
    re.IGNORECASE,
)


def clean_llm_summary(text: str, max_words: int) -> str:
    """An LLM answer made into a bare TLDR: no <think> block, preamble, quotes or markdown."""
    text = _THINK.sub("", text)
    text = text.strip()
    previous = None
    while previous != text:
        previous = text
        text = _PREAMBLE.sub("", text).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    text = lines[0] if lines else ""
    text = text.strip("*_`#> ").strip("\"'\u201c\u201d\u2018\u2019 ").strip()
    return compress(text, max_words)


def compress(sentence: str, max_words: int) -> str:
    """A sentence cut to at most ``max_words`` words, preferably at a clause boundary."""
    tokens = words(sentence)
    if len(tokens) <= max_words:
        return sentence.strip()
    head = tokens[:max_words]
    # Prefer ending at the last comma/semicolon in the second half of the allowance.
    for i in range(len(head) - 1, max_words // 2, -1):
        if head[i].endswith((",", ";", ":")):
            head = head[: i + 1]
            break
    text = " ".join(head).rstrip(",;:")
    return text if text.endswith((".", "!", "?")) else text + "."


_NUMBER = re.compile(r"(?<![\w\-.])\d+(?:[.,]\d+)*%?")
_TERM = re.compile(r"\b[A-Za-z]*[A-Z][A-Za-z0-9\-]*[A-Z0-9][A-Za-z0-9\-]*\b")  # BERT, GPT-4, ResNet


def faithfulness_issues(summary: str, abstract: str, title: str = "") -> list[str]:
    """Numbers and named terms (acronyms, CamelCase) in ``summary`` that the source lacks."""
    source = f"{title} {abstract}"
    source_numbers = {n.rstrip("%").replace(",", "") for n in _NUMBER.findall(source)}
    source_lower = source.lower()
    issues = []
    for number in _NUMBER.findall(summary):
        if number.rstrip("%").replace(",", "") not in source_numbers:
            issues.append(f"number {number!r} is not in the abstract")
    for term in set(_TERM.findall(summary)):
        if term.lower() not in source_lower:
            issues.append(f"term {term!r} is not in the abstract")
    return sorted(issues)


# --------------------------------------------------------------------------------------------
# Extractive
# --------------------------------------------------------------------------------------------

CUE_PHRASES = (
    "we propose",
    "we present",
    "we introduce",
    "we show",
    "we demonstrate",
    "we find",
    "we develop",
    "this paper",
    "in this paper",
    "in this work",
    "our method",
    "our approach",
    "our results",
    "we study",
    "we investigate",
    "outperform",
    "state-of-the-art",
    "novel",
)
MODEL_FILE = Path(__file__).with_name("extractive_model.json")


@dataclass
class ScoringModel:
    """A linear scorer of sentences: weights over the features of ``sentence_features``."""

    vector_weights: np.ndarray | None = None  # over the sentence's unit vector (dim,)
    feature_weights: dict[str, float] = field(default_factory=dict)
    bias: float = 0.0
    max_words: int = 28

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> ScoringModel:
        """The learned model shipped with the code, or plain centroid heuristics without it."""
        if not path.exists():
            return cls(feature_weights={"centroid": 1.0, "title": 0.5, "first": 0.1, "cue": 0.2})
        data = json.loads(path.read_text())
        vw = data.get("vector_weights")
        return cls(
            vector_weights=np.asarray(vw, dtype=np.float32) if vw else None,
            feature_weights={k: float(v) for k, v in data["feature_weights"].items()},
            bias=float(data.get("bias", 0.0)),
            max_words=int(data.get("max_words", 28)),
        )

    def score(self, vectors: np.ndarray, features: list[dict[str, float]]) -> np.ndarray:
        scores = np.full(len(features), self.bias, dtype=np.float64)
        if self.vector_weights is not None and len(vectors):
            scores += vectors @ self.vector_weights
        for i, feats in enumerate(features):
            scores[i] += sum(self.feature_weights.get(k, 0.0) * v for k, v in feats.items())
        return scores


def sentence_features(
    sentences: list[str], vectors: np.ndarray, title_vector: np.ndarray | None
) -> list[dict[str, float]]:
    """Per-sentence features: similarity to the abstract's centroid and the title, position,
    cue phrases, length. ``vectors`` are unit rows, one per sentence."""
    n = len(sentences)
    centroid = vectors.mean(axis=0) if n else np.zeros(1)
    norm = float(np.linalg.norm(centroid)) or 1.0
    centroid_sim = vectors @ (centroid / norm) if n else np.zeros(0)
    title_sim = vectors @ title_vector if title_vector is not None and n else np.zeros(n)
    feats = []
    for i, sentence in enumerate(sentences):
        lower = sentence.lower()
        length = len(words(sentence))
        feats.append(
            {
                "centroid": float(centroid_sim[i]),
                "title": float(title_sim[i]),
                "first": 1.0 if i == 0 else 0.0,
                "last": 1.0 if i == n - 1 and n > 1 else 0.0,
                "position": i / max(1, n - 1),
                "cue": float(sum(phrase in lower for phrase in CUE_PHRASES)),
                "we": 1.0 if re.search(r"\bwe\b|\bour\b", lower) else 0.0,
                "length": min(length, 60) / 60.0,
                "short": 1.0 if length < 8 else 0.0,
                "digits": 1.0 if re.search(r"\d", sentence) else 0.0,
            }
        )
    return feats


class ExtractiveSummarizer:
    """Picks the abstract's most TLDR-like sentence and compresses it to ``max_words``."""

    name = "extractive"

    def __init__(
        self, embed: EmbedFn, model: ScoringModel | None = None, max_words: int | None = None
    ) -> None:
        self._embed = embed
        self.model = model or ScoringModel.load()
        self.max_words = max_words or self.model.max_words

    @property
    def model_name(self) -> str:
        learned = self.model.vector_weights is not None
        return "extractive (learned linear scorer over MiniLM)" if learned else "extractive"

    async def summarize(self, title: str, abstract: str) -> str:
        sentences = split_sentences(abstract)
        if not sentences:
            raise StageError("the abstract is empty", "summarizer")
        if len(sentences) == 1:
            return compress(sentences[0], self.max_words)
        vectors = np.asarray(await self._embed([title, *sentences]), dtype=np.float32)
        title_vec, sent_vecs = vectors[0], vectors[1:]
        scores = self.model.score(sent_vecs, sentence_features(sentences, sent_vecs, title_vec))
        best = int(np.argmax(scores))
        return compress(sentences[best], self.max_words)


# --------------------------------------------------------------------------------------------
# LLM backends
# --------------------------------------------------------------------------------------------


def chat_messages(title: str, abstract: str, max_words: int) -> list[dict[str, str]]:
    """The TLDR prompt every LLM backend sends."""
    target = min(max_words, TLDR_WORDS)
    return [
        {"role": "system", "content": SYSTEM_PROMPT.format(words=target)},
        {"role": "user", "content": USER_PROMPT.format(title=title, abstract=abstract)},
    ]


class OpenAIChatSummarizer:
    """TLDRs from any OpenAI-compatible ``/chat/completions`` endpoint."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        max_words: int = 30,
        timeout_s: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.model_name = model
        self.max_words = max_words
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=timeout_s,
            transport=transport,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )

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


def _chat_request(payload: dict[str, Any]) -> Any:
    """Ray Serve LLM's ChatCompletionRequest (vLLM's schema); a dict where vLLM is absent."""
    try:
        from ray.serve.llm.openai_api_models import ChatCompletionRequest
    except ImportError:  # CPU machines: the stand-in LLM server takes the same fields as a dict
        return payload
    return ChatCompletionRequest(**payload)


def _content_of(item: Any) -> str:
    """The text of a ChatCompletionResponse (object or dict); raises on an ErrorResponse."""
    data = item.model_dump() if hasattr(item, "model_dump") else item
    if isinstance(data, dict) and "choices" in data:
        return str(data["choices"][0]["message"]["content"] or "")
    raise StageError(f"LLM server answered {str(data)[:200]}", "summarizer")


class VLLMSummarizer:
    """TLDRs from a self-hosted vLLM in the same graph, through Ray Serve LLM's ``LLMServer``.

    ``llm`` is a DeploymentHandle to an ``LLMServer`` (or a stand-in with the same ``chat``).
    """

    name = "vllm"

    def __init__(self, llm: Any, model_id: str, max_words: int = 30) -> None:
        self._llm = llm
        self.model_name = model_id
        self.max_words = max_words

    async def summarize(self, title: str, abstract: str) -> str:
        request = _chat_request(
            {
                "model": self.model_name,
                "messages": chat_messages(title, abstract, self.max_words),
                "max_tokens": 4 * self.max_words + 32,
                "temperature": 0.0,
                "stream": False,
            }
        )
        content = ""
        # LLMServer.chat is an async generator; unstreamed, it yields one full response.
        async for item in self._llm.options(stream=True).chat.remote(request):
            content += _content_of(item)
        summary = clean_llm_summary(content, self.max_words)
        if not summary:
            raise StageError("the model returned an empty summary", "summarizer")
        return summary


class SummaryBackend(Protocol):
    name: str

    @property
    def model_name(self) -> str: ...

    async def summarize(self, title: str, abstract: str) -> str: ...


@dataclass
class SummaryOutcome:
    """A summary and what to tell the caller about it."""

    summary: str | None
    backend: str
    model: str
    warnings: list[str] = field(default_factory=list)


async def summarize_checked(
    backend: SummaryBackend, title: str, abstract: str, timeout_s: float
) -> SummaryOutcome:
    """Run a backend with a deadline and a faithfulness check; failures become a warning."""
    try:
        text = await asyncio.wait_for(backend.summarize(title, abstract), timeout=timeout_s)
    except TimeoutError:
        return SummaryOutcome(
            None, backend.name, backend.model_name, [f"summary timed out after {timeout_s:.0f}s"]
        )
    except StageError as exc:
        return SummaryOutcome(
            None, backend.name, backend.model_name, [f"summary failed: {exc.message}"]
        )
    issues = faithfulness_issues(text, abstract, title) if backend.name != "extractive" else []
    warnings = [f"summary may be unfaithful: {issue}" for issue in issues]
    return SummaryOutcome(text, backend.name, backend.model_name, warnings)


# --------------------------------------------------------------------------------------------
# Deployment
# --------------------------------------------------------------------------------------------

from ray import serve  # noqa: E402
from ray.serve.handle import DeploymentHandle  # noqa: E402

from deployments import metrics  # noqa: E402
from models.settings import Settings  # noqa: E402


def make_backend(
    config: Settings, embedder: DeploymentHandle | None, llm: DeploymentHandle | None
) -> SummaryBackend:
    """The backend the settings name, wired to the handles it needs."""
    if config.summarizer_backend == "openai":
        if not config.openai_base_url:
            raise ValueError("SUMMARIZER_BACKEND=openai needs OPENAI_BASE_URL")
        key = config.openai_api_key.get_secret_value() if config.openai_api_key else None
        return OpenAIChatSummarizer(
            config.openai_base_url,
            config.summarizer_model or "default",
            api_key=key,
            max_words=config.summary_max_words,
            timeout_s=config.summary_timeout_s,
        )
    if config.summarizer_backend == "vllm":
        if llm is None:
            raise ValueError("SUMMARIZER_BACKEND=vllm needs the LLM deployment bound in the graph")
        return VLLMSummarizer(
            llm, config.summarizer_model or "default", max_words=config.summary_max_words
        )
    if embedder is None:
        raise ValueError("the extractive summarizer needs the Embedder deployment")

    async def embed(texts: list[str]) -> np.ndarray:
        return await embedder.embed.remote(texts)

    return ExtractiveSummarizer(embed)


@serve.deployment(name="Summarizer")
class Summarizer:
    """Thin Serve wrapper around the configured backend; one paper per call."""

    def __init__(
        self,
        settings: dict[str, Any] | None = None,
        embedder: DeploymentHandle | None = None,
        llm: DeploymentHandle | None = None,
    ) -> None:
        self.config = Settings.load(settings)
        self.backend = make_backend(self.config, embedder, llm)
        self.stage_metrics = metrics.StageMetrics("summarizer")
        self.outcomes = metrics.counter(
            "arm_summaries_total", "Summaries by outcome: made, failed, flagged.", ("outcome",)
        )
        logger.info("Summarizer backend %s (%s)", self.backend.name, self.backend.model_name)

    async def summarize(self, title: str, abstract: str) -> SummaryOutcome:
        started = time.perf_counter()
        outcome = await summarize_checked(
            self.backend, title, abstract, self.config.summary_timeout_s
        )
        self.stage_metrics.record(1, time.perf_counter() - started)
        self.outcomes.inc(1, tags={"outcome": "made" if outcome.summary else "failed"})
        if outcome.summary and outcome.warnings:
            self.outcomes.inc(1, tags={"outcome": "flagged"})
        return outcome

    def info(self) -> dict[str, str]:
        return {"backend": self.backend.name, "model": self.backend.model_name}

    async def health(self) -> dict[str, Any]:
        return {"state": "ok", "detail": f"{self.backend.name}: {self.backend.model_name}"}
