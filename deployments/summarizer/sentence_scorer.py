"""The extractive summarizer's ridge scorer: features of each sentence of an abstract and a
linear model over them, learned by ``python -m bench.training.sentence_scorer``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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

    Learned by ``python -m bench.training.sentence_scorer`` (ridge regression of each SciTLDR train
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
