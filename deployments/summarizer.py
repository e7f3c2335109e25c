"""Summarizer stage: a one-sentence TLDR of a paper from its title and abstract.

Backends (``SUMMARIZER_BACKEND``):
    extractive  CPU default. Splits the abstract into sentences and scores each twice: a small
                linear model over its MiniLM vector (from the Embedder deployment), position
                and cue phrases, and MiniLM fine-tuned to rate sentences in the context of the
                whole abstract. The best one is compressed to TLDR length. Deterministic.
    vllm        self-hosted vLLM inside the graph through Ray Serve LLM (``LLMServer.chat``).
    openai      any OpenAI-compatible chat endpoint (``OPENAI_BASE_URL``), e.g. ``vllm serve``.

Every backend's output goes through ``faithfulness_issues``: a summary that names a number or a
term the abstract does not contain is returned with a warning, never silently.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import httpx
import numpy as np

from deployments.caches import TTLCache
from deployments.errors import StageError

if TYPE_CHECKING:
    from deployments.context_scorer import ContextScorer

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

# Words after which a full stop does not end the sentence. Case-sensitive: "CF." (collaborative
# filtering) may end one. "etc." is left out: it usually does end a sentence. No rule for single
# letters: "of size N. We" ends a sentence far more often in abstracts than an initial does.
_ABBREVIATIONS = {
    "e.g.",
    "i.e.",
    "al.",
    "vs.",
    "cf.",
    "Fig.",
    "Figs.",
    "fig.",
    "Eq.",
    "Eqs.",
    "eq.",
    "Sec.",
    "Ref.",
    "Refs.",
    "approx.",
    "resp.",
    "No.",
    "no.",
    "Dr.",
    "Prof.",
    "St.",
    "ca.",
    "viz.",
}
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
        last_word = candidate.rsplit(" ", 1)[-1].lstrip("([{\"'")
        if last_word in _ABBREVIATIONS:
            continue  # "et al." / "Fig.": not the end of a sentence
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

# Discourse openers that references never keep ("In this paper, we ..." -> "We ...").
_OPENERS = re.compile(
    r"^(?:(?:in this (?:paper|work|study|article|note|letter|thesis)|here(?:in)?|specifically|"
    r"to this end|in particular|moreover|furthermore|additionally|finally|therefore|thus|hence|"
    r"consequently|as a result|however|in addition|to (?:do so|achieve this|address (?:this|these) "
    r"(?:issues?|problems?|challenges?|limitations?))|first(?:ly)?|second(?:ly)?|then|overall|"
    r"in summary|in conclusion|instead|in contrast|on the other hand|importantly|notably|"
    r"crucially|surprisingly|empirically|experimentally|theoretically|concretely|practically|"
    r"motivated by (?:this|these observations?))\s*,?\s+)+",
    re.IGNORECASE,
)
_LEAD_CLAUSE_WE = re.compile(r"^[^,]{3,100},\s+(?=we\s)")


def tldr_sentence(sentence: str, max_words: int = 40) -> str:
    """An abstract sentence made TLDR-like: no discourse opener, no parentheticals, no leading
    clause before "we", at most ``max_words`` words. Each step measured on SciTLDR train/dev."""
    text = _OPENERS.sub("", sentence.strip())
    text = _LEAD_CLAUSE_WE.sub("", text)
    text = re.sub(r"\s*\([^()]*\)", "", text)
    text = re.sub(r"\s*\[[^\[\]]*\]", "", text)
    text = re.sub(r"\s+([,.;:])", r"\1", " ".join(text.split())).strip()
    if not text:
        text = sentence.strip()
    text = text[0].upper() + text[1:]
    return compress(text, max_words)


# Cue patterns: what TLDR-like sentences say ("we propose", "we show") and what background says.
CUES = {
    "cue_propose": r"\bwe (propose|present|introduce|develop|design|describe)\b",
    "cue_show": r"\bwe (show|demonstrate|find|prove|observe|establish)\b",
    "cue_this_paper": r"\b(this|the present) (paper|work|study|article)\b|\bin this (paper|work)\b",
    "cue_our": r"\bour\b",
    "cue_we": r"\bwe\b",
    "cue_results": r"\b(results|experiments|empirical|evaluat)",
    "cue_improve": r"(outperform|state-of-the-art|state of the art|significantly|improv)",
    "cue_novel": r"\b(novel|new|first)\b",
    "cue_method": r"\b(method|approach|framework|model|algorithm|technique)\b",
    "cue_contrast": r"^(however|but|although|while|despite)",
    "cue_background": r"\b(recent|recently|has been|have been|are widely|is a|is an)\b",
}
HAND_FEATURES = [
    "centroid_sim",
    "loo_centroid_sim",
    "is_most_central",
    "centroid_sim_rel",
    "pos_0",
    "pos_1",
    "pos_2",
    "pos_3plus",
    "is_last",
    "rel_pos",
    "n_sentences",
    "words",
    "words_sq",
    "short",
    "long",
    "has_digit",
    *CUES,
    "starts_we",
    "sim_first",
    "sim_last",
    "max_sim_other",
    "mean_sim_other",
    "rel_pos_x_we",
    "rel_pos_x_propose",
    "pos_1_x_propose",
    "pos_0_x_we",
    "rel_pos_sq",
]
MODEL_FILE = Path(__file__).with_name("extractive_model.json")


def sentence_features(sentences: list[str], vectors: np.ndarray) -> np.ndarray:
    """Features of each sentence of one abstract: ``HAND_FEATURES``, then the sentence's unit
    vector, then that vector times the abstract's centroid (so a linear model can learn which
    directions of agreement with the whole abstract matter). Shape (n, len(HAND) + 2 * dim)."""
    n = len(sentences)
    centroid = vectors.mean(axis=0)
    centroid = centroid / (np.linalg.norm(centroid) or 1.0)
    sims = vectors @ centroid
    pair = vectors @ vectors.T
    total = vectors.sum(axis=0)
    rows = []
    for i, sentence in enumerate(sentences):
        lower = sentence.lower()
        length = len(sentence.split())
        others = total - vectors[i]
        norm = float(np.linalg.norm(others))
        other_sims = [float(pair[i, j]) for j in range(n) if j != i] or [0.0]
        rel_pos = i / max(1, n - 1)
        we = float(bool(re.search(r"\bwe\b", lower)))
        propose = float(bool(re.search(r"\bwe (propose|present|introduce|develop)", lower)))
        hand = [
            float(sims[i]),
            float(vectors[i] @ others / norm) if n > 1 and norm > 0 else 0.0,
            float(int(np.argmax(sims)) == i),
            float(sims[i] - sims.mean()),
            float(i == 0),
            float(i == 1),
            float(i == 2),
            float(i >= 3),
            float(i == n - 1),
            rel_pos,
            n / 10,
            length / 30,
            (length / 30) ** 2,
            float(length < 10),
            float(length > 40),
            float(bool(re.search(r"\d", sentence))),
            *(float(bool(re.search(pattern, lower))) for pattern in CUES.values()),
            float(lower.startswith("we ")),
            float(pair[i, 0]) if i else 1.0,
            float(pair[i, n - 1]) if i != n - 1 else 1.0,
            max(other_sims),
            float(np.mean(other_sims)),
            rel_pos * we,
            rel_pos * propose,
            float(i == 1) * propose,
            float(i == 0) * we,
            rel_pos**2,
        ]
        rows.append(
            np.concatenate([np.asarray(hand, dtype=np.float32), vectors[i], vectors[i] * centroid])
        )
    return np.asarray(rows, dtype=np.float32)


@dataclass
class ScoringModel:
    """A linear scorer of sentences over ``sentence_features``; the best-scoring one is the TLDR.

    Learned by ``python -m bench.train_extractive`` (ridge regression of each SciTLDR train
    sentence's ROUGE, relative to its abstract's mean). Without the file, centroid similarity.
    """

    weights: np.ndarray
    max_words: int = 40
    trained_on: str = "none (centroid similarity)"

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> ScoringModel:
        if not path.exists():
            weights = np.zeros(len(HAND_FEATURES), dtype=np.float32)
            weights[HAND_FEATURES.index("centroid_sim")] = 1.0
            return cls(weights)
        data = json.loads(path.read_text())
        if data.get("hand_features") != HAND_FEATURES:
            raise ValueError(f"{path} was trained on other features; retrain it")
        weights = np.asarray(
            data["hand_weights"] + data["vector_weights"] + data["agreement_weights"],
            dtype=np.float32,
        )
        return cls(weights, int(data.get("max_words", 40)), str(data.get("trained_on", "")))

    @property
    def learned(self) -> bool:
        return len(self.weights) > len(HAND_FEATURES)

    def score(self, features: np.ndarray) -> np.ndarray:
        return features[:, : len(self.weights)] @ self.weights


class ExtractiveSummarizer:
    """Picks the abstract's most TLDR-like sentence and tidies it (``tldr_sentence``).

    Two scorers vote (``context_scorer.Blend``): the ridge model over each sentence's MiniLM vector
    (from the Embedder deployment, in its shared batches) and the contextual scorer, MiniLM
    fine-tuned to read the whole abstract (``deployments.context_scorer``), run here in a
    thread, while the Embedder embeds. Cost per abstract: about 50 ms of sentence embedding plus
    65 ms for the contextual pass on one CPU core (85-90 ms for both on this 2-core machine, as
    ``bench.summaries`` measures). Deterministic.
    """

    name = "extractive"

    def __init__(
        self,
        embed: EmbedFn,
        model: ScoringModel | None = None,
        max_words: int | None = None,
        context: ContextScorer | Literal["shipped"] | None = "shipped",
    ) -> None:
        """``context``: a ``ContextScorer``, None for the ridge scorer alone, or "shipped" to
        load ``extractive_context.safetensors`` (the ridge alone when the file is absent)."""
        self._embed = embed
        self.model = model or ScoringModel.load()
        self.max_words = max_words or self.model.max_words
        if context == "shipped":
            from deployments.context_scorer import ContextScorer  # torch: only where used

            context = ContextScorer.load()
        self.context: ContextScorer | None = context

    @property
    def model_name(self) -> str:
        if self.context is not None:
            return "minilm-context+ridge"
        return "learned-ridge-minilm" if self.model.learned else "centroid-minilm"

    async def summarize(self, title: str, abstract: str) -> str:
        sentences = split_sentences(abstract)
        if not sentences:
            raise StageError("the abstract is empty", "summarizer")
        if len(sentences) == 1:
            return tldr_sentence(sentences[0], self.max_words)
        embedding = self._embed(sentences)
        if self.context is None:
            embedded, context_scores = await embedding, None
        else:
            # Both at once: the Embedder works in its own replica while this one reads.
            embedded, context_scores = await asyncio.gather(
                embedding, asyncio.to_thread(self.context.score, sentences)
            )
        vectors = np.asarray(embedded, dtype=np.float32)
        scores = self.model.score(sentence_features(sentences, vectors))
        if self.context is not None and context_scores is not None:
            scores = self.context.blend.combine(scores, context_scores)
        return tldr_sentence(sentences[int(np.argmax(scores))], self.max_words)


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


class SharedSummaries:
    """One summary per paper at a time, and recent ones kept.

    Concurrent requests often rank the same paper before memory has stored its summary; callers
    for a paper whose summary is being made wait for that one call instead of making another
    (for an LLM backend, another paid call). Successful outcomes are kept (LRU, ``size``);
    failures are not, so the next request tries again.
    """

    def __init__(self, size: int) -> None:
        self._done: TTLCache[bytes, SummaryOutcome] = TTLCache(maxsize=size)
        self._in_flight: dict[bytes, asyncio.Future[SummaryOutcome]] = {}

    @staticmethod
    def key(title: str, abstract: str) -> bytes:
        return hashlib.blake2b(f"{title}\x00{abstract}".encode(), digest_size=16).digest()

    async def get(
        self, key: bytes, make: Callable[[], Awaitable[SummaryOutcome]]
    ) -> tuple[SummaryOutcome, bool]:
        """(outcome, shared): ``shared`` when no new summary was made for this call."""
        done = self._done.get(key)
        if done is not None:
            return done, True
        pending = self._in_flight.get(key)
        if pending is not None:
            return await asyncio.shield(pending), True
        future: asyncio.Future[SummaryOutcome] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            outcome = await make()
            future.set_result(outcome)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            del self._in_flight[key]
        if outcome.summary:
            self._done.put(key, outcome)
        return outcome, False


# --------------------------------------------------------------------------------------------
# Deployment
# --------------------------------------------------------------------------------------------

from ray import serve  # noqa: E402
from ray.serve.handle import DeploymentHandle  # noqa: E402

from deployments import metrics  # noqa: E402
from models.settings import Settings  # noqa: E402


def make_backend(config: Settings, embed: EmbedFn | None, llm: Any | None) -> SummaryBackend:
    """The backend the settings name, wired to what it needs: ``embed`` (sentence vectors, for
    ``extractive``) or ``llm`` (a handle to an LLMServer, for ``vllm``)."""
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
    if embed is None:
        raise ValueError("the extractive summarizer needs sentence vectors (the Embedder)")
    return ExtractiveSummarizer(embed, context="shipped" if config.summarizer_context else None)


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
        embed: EmbedFn | None = None
        if embedder is not None:

            async def embed(texts: list[str]) -> np.ndarray:
                return await embedder.embed.remote(texts)

        self.backend = make_backend(self.config, embed, llm)
        self.stage_metrics = metrics.StageMetrics("summarizer")
        self.outcomes = metrics.summaries_counter()
        self.shared = SharedSummaries(self.config.summary_cache_size)
        logger.info("Summarizer backend %s (%s)", self.backend.name, self.backend.model_name)

    async def summarize(self, title: str, abstract: str) -> SummaryOutcome:
        started = time.perf_counter()
        outcome, shared = await self.shared.get(
            SharedSummaries.key(title, abstract),
            lambda: summarize_checked(self.backend, title, abstract, self.config.summary_timeout_s),
        )
        self.stage_metrics.record(0 if shared else 1, time.perf_counter() - started)
        if shared:
            self.outcomes.inc(1, tags={"outcome": "shared"})
            return outcome
        self.outcomes.inc(1, tags={"outcome": "made" if outcome.summary else "failed"})
        if outcome.summary and outcome.warnings:
            self.outcomes.inc(1, tags={"outcome": "flagged"})
        return outcome

    def info(self) -> dict[str, str]:
        return {"backend": self.backend.name, "model": self.backend.model_name}

    async def health(self) -> dict[str, Any]:
        return {"state": "ok", "detail": f"{self.backend.name}: {self.backend.model_name}"}
