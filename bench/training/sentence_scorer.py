"""Fit the extractive summarizer's sentence scorer on SciTLDR-A train.

    python -m bench.training.sentence_scorer [--data ../shared/scitldr/scitldr_a_train.jsonl]

For every sentence of every training abstract: the features the summarizer computes at serving
time (``deployments.summarizer.sentence_scorer``, MiniLM vectors from the project's own
embedder) and, as the target, the mean ROUGE-1/2/L F1 of the TLDR it would become
(``tldr_sentence``) against the reference, minus its abstract's mean: only the ranking within an
abstract matters. Ridge regression, closed form, with the 2 x 384 vector features shrunk harder
than the hand features (``--vector-scale``).
Writes ``deployments/summarizer/extractive_model.json``.
Hyper-parameters were chosen on the dev split; the test split was never used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from bench.data.scitldr import SHARED_SCITLDR, Rouge, load_records
from deployments.embedder.text_embedder import TextEmbedder
from deployments.summarizer.sentence_scorer import HAND_FEATURES, MODEL_FILE, sentence_features
from deployments.summarizer.text import split_sentences, tldr_sentence


def sentence_rouge(
    rouge: Rouge, sentences: list[str], references: list[str], max_words: int
) -> np.ndarray:
    """What picking each sentence would score: ROUGE-1/2/L F1 of the TLDR it becomes, (n, 3)."""
    return np.array(
        [list(rouge(tldr_sentence(s, max_words), references).values()) for s in sentences]
    )


def build_dataset(
    path: Path, embedder: TextEmbedder, max_words: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """(features, relative targets, abstracts used)."""
    rouge = Rouge()
    records = load_records(path)
    splits = [split_sentences(r.abstract) for r in records]
    flat = [s for sentences in splits for s in sentences]
    print(f"embedding {len(flat)} sentences of {len(records)} abstracts", file=sys.stderr)
    vectors = embedder.embed(flat)
    features, targets, offset, used = [], [], 0, 0
    for n, (record, sentences) in enumerate(zip(records, splits, strict=True)):
        block = vectors[offset : offset + len(sentences)]
        offset += len(sentences)
        if len(sentences) < 2:
            continue  # nothing to choose between
        scores = sentence_rouge(rouge, sentences, record.references, max_words).mean(axis=1)
        features.append(sentence_features(sentences, block))
        targets.append(scores - scores.mean())
        used += 1
        if n % 250 == 0:
            print(f"  targets {n}/{len(records)}", file=sys.stderr)
    return np.concatenate(features), np.concatenate(targets), used


def fit_ridge(x: np.ndarray, y: np.ndarray, lam: float, vector_scale: float) -> np.ndarray:
    """Ridge on standardised features; returns weights on the raw features (intercept dropped:
    it cannot change which sentence of an abstract scores best)."""
    mu = x.mean(axis=0)
    sd = x.std(axis=0) + 1e-6
    scale = np.ones(x.shape[1])
    scale[len(HAND_FEATURES) :] = vector_scale
    z = (x - mu) / sd * scale
    w = np.linalg.solve(z.T @ z + lam * np.eye(z.shape[1]), z.T @ (y - y.mean()))
    return w * scale / sd


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fit the extractive TLDR scorer on SciTLDR train")
    parser.add_argument("--data", type=Path, default=SHARED_SCITLDR / "scitldr_a_train.jsonl")
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    parser.add_argument("--lam", type=float, default=300.0)
    parser.add_argument("--vector-scale", type=float, default=0.3)
    parser.add_argument("--max-words", type=int, default=40)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    x, y, used = build_dataset(args.data, TextEmbedder(), args.max_words)
    weights = fit_ridge(x, y, args.lam, args.vector_scale).astype(np.float32)
    nh = len(HAND_FEATURES)
    dim = (len(weights) - nh) // 2
    model = {
        "trained_on": f"{args.data.name}: {used} abstracts, {len(y)} sentences",
        "method": f"ridge, lambda={args.lam}, vector_scale={args.vector_scale}, "
        "target=mean ROUGE-1/2/L F1 of the TLDR sentence relative to its abstract",
        "max_words": args.max_words,
        "hand_features": HAND_FEATURES,
        "hand_weights": [round(float(v), 6) for v in weights[:nh]],
        "vector_weights": [round(float(v), 6) for v in weights[nh : nh + dim]],
        "agreement_weights": [round(float(v), 6) for v in weights[nh + dim :]],
    }
    args.out.write_text(json.dumps(model, indent=1) + "\n")
    print(
        json.dumps(
            {
                "out": str(args.out),
                "abstracts": used,
                "sentences": len(y),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
