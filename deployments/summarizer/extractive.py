"""The extractive backend (CPU default): the abstract's most TLDR-like sentence, tidied.

Two scorers vote: the ridge model over each sentence's MiniLM vector (``sentence_scorer``) and
MiniLM fine-tuned to read the whole abstract (``context_scorer``). Deterministic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal

import numpy as np

from deployments.summarizer.sentence_scorer import HAND_FEATURES, ScoringModel, sentence_features
from deployments.summarizer.text import split_sentences, tldr_sentence
from models.errors import StageError

if TYPE_CHECKING:
    from deployments.summarizer.context_scorer import ContextScorer

EmbedFn = Callable[[list[str]], Awaitable[np.ndarray]]
PROBE = ("Decoders are slow.", "We propose a fast decoder.")  # check()'s abstract


class ExtractiveSummarizer:
    """Picks the abstract's most TLDR-like sentence and tidies it (``tldr_sentence``).

    Two scorers vote (``context_scorer.Blend``): the ridge model over each sentence's MiniLM vector
    (from the Embedder deployment, in its shared batches) and the contextual scorer, MiniLM
    fine-tuned to read the whole abstract (``context_scorer``), run here in a
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
        # The caller's budget when given (the Summarizer's setting), else the model's own.
        self.max_words = max_words or self.model.max_words
        if context == "shipped":
            from deployments.summarizer.context_scorer import ContextScorer  # torch: where used

            context = ContextScorer.load()
        self.context: ContextScorer | None = context

    @property
    def model_name(self) -> str:
        if self.context is not None:
            return "minilm-context+ridge"
        return "learned-ridge-minilm" if self.model.learned else "centroid-minilm"

    async def check(self) -> None:
        """Raise unless both scorers still score: a probe abstract through each (the ridge on
        made-up unit vectors, so the Embedder sees nothing of it; ~10 ms of CPU)."""
        # The ridge's weights are hand features, then two blocks of the sentence vectors' size.
        dimension = max(2, (len(self.model.weights) - len(HAND_FEATURES)) // 2)
        vectors = np.eye(2, dimension, dtype=np.float32)
        scores = [self.model.score(sentence_features(list(PROBE), vectors))]
        if self.context is not None:
            scores.append(await asyncio.to_thread(self.context.score, list(PROBE)))
        if not all(s.shape == (len(PROBE),) and np.isfinite(s).all() for s in scores):
            raise StageError(f"the extractive scorers gave {scores} for a probe", "summarizer")

    async def aclose(self) -> None:
        """Nothing to release: the scorers are plain in-memory models."""

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
