"""Fine-tune the extractive summarizer's contextual sentence scorer on SciTLDR-A train.

    python -m bench.training.context_scorer [--train PATH] [--dev PATH] [--epochs 3]

MiniLM (the packaged one) reads each training abstract whole and learns to rate its sentences
(``deployments.summarizer.context_scorer``) with a listwise loss: cross-entropy between the
softmax of the scores and the softmax of what each sentence would score as the TLDR
(``sentence_rouge``, at a temperature of ``--tau`` ROUGE points). AdamW, linear warm-up and
decay, batches of 8 abstracts; about 6 minutes an epoch on 2 CPU cores. After each epoch it
measures how widely each scorer's scores spread within training abstracts
(``context_scorer.Blend``) and prints the dev ROUGE-1 of the picked sentence for blends with the
ridge scorer (0: ridge alone, 1: this model alone), which is how ``--weight`` was chosen. Writes
the layers, the head and the blend to ``deployments/summarizer/extractive_context.safetensors``.
The test split was never used.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from bench.data.scitldr import SHARED_SCITLDR, Rouge, load_records
from bench.training.sentence_scorer import sentence_rouge
from deployments.common.packaged_model import packaged_model_path
from deployments.embedder.text_embedder import TextEmbedder
from deployments.summarizer.context_scorer import (
    LEARNED_PREFIXES,
    WEIGHTS_FILE,
    AbstractInput,
    Blend,
    ContextScorerNet,
    abstract_input,
    save,
    within_abstract_spread,
)
from deployments.summarizer.sentence_scorer import ScoringModel, sentence_features
from deployments.summarizer.text import split_sentences

BLEND_WEIGHTS = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0)


@dataclass
class Example:
    """One abstract: model input, sentences, and per-sentence targets (mean and ROUGE-1)."""

    item: AbstractInput
    sentences: list[str]
    targets: np.ndarray
    rouge1: np.ndarray


def load_split(
    path: Path, tokenizer: PreTrainedTokenizerBase, max_words: int, min_sentences: int
) -> list[Example]:
    """Every abstract with at least ``min_sentences`` sentences."""
    rouge = Rouge()
    examples = []
    for record in load_records(path):
        sentences = split_sentences(record.abstract)
        if len(sentences) < min_sentences:
            continue
        scores = sentence_rouge(rouge, sentences, record.references, max_words)
        examples.append(
            Example(abstract_input(tokenizer, sentences), sentences, scores.mean(1), scores[:, 0])
        )
    return examples


def listwise_loss(scores: torch.Tensor, targets: np.ndarray, tau: float) -> torch.Tensor:
    wanted = torch.softmax(torch.tensor((targets - targets.max()) / tau, dtype=torch.float32), 0)
    return -(wanted * torch.log_softmax(scores, 0)).sum()


def epoch_batches(examples: list[Example], size: int, rng: np.random.Generator) -> list[list[int]]:
    """Shuffled batches of abstracts of similar length (less padding), in random order."""
    order = rng.permutation(len(examples))
    batches: list[list[int]] = []
    for start in range(0, len(order), size * 16):
        chunk = sorted(order[start : start + size * 16], key=lambda i: len(examples[i].item.ids))
        batches += [[int(i) for i in chunk[k : k + size]] for k in range(0, len(chunk), size)]
    rng.shuffle(batches)
    return batches


def context_scores(net: ContextScorerNet, examples: list[Example]) -> list[np.ndarray]:
    net.eval()
    with torch.inference_mode():
        scores = [net([example.item])[0].numpy().astype(np.float64) for example in examples]
    net.train()
    return scores


def ridge_scores(examples: list[Example], embedder: TextEmbedder) -> list[np.ndarray]:
    model = ScoringModel.load()
    return [
        model.score(sentence_features(e.sentences, embedder.embed(e.sentences))) for e in examples
    ]


def dev_report(
    dev: list[Example], ridge: list[np.ndarray], context: list[np.ndarray], blend: Blend
) -> dict[float, float]:
    """Dev ROUGE-1 of the picked sentence for each blend weight (0: ridge alone)."""
    report = {}
    for weight in BLEND_WEIGHTS:
        mix = Blend(weight, blend.context_spread, blend.ridge_spread)
        picks = [
            example.rouge1[int(np.argmax(mix.combine(r, c)))]
            for example, r, c in zip(dev, ridge, context, strict=True)
        ]
        report[weight] = round(float(np.mean(picks)), 2)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fine-tune the contextual TLDR sentence scorer")
    parser.add_argument("--train", type=Path, default=SHARED_SCITLDR / "scitldr_a_train.jsonl")
    parser.add_argument("--dev", type=Path, default=SHARED_SCITLDR / "scitldr_a_dev.jsonl")
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--tau", type=float, default=3.0, help="target temperature, ROUGE points")
    parser.add_argument("--batch", type=int, default=8, help="abstracts per step")
    parser.add_argument("--weight", type=float, default=0.6, help="blend weight to store")
    parser.add_argument("--max-words", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spread-sample", type=int, default=400, help="train abstracts")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    base = packaged_model_path()
    tokenizer = AutoTokenizer.from_pretrained(base)
    # Training skips one-sentence abstracts (nothing to choose); dev keeps them, so its figures
    # compare with python -m bench.summaries.
    train = load_split(args.train, tokenizer, args.max_words, min_sentences=2)
    dev = load_split(args.dev, tokenizer, args.max_words, min_sentences=1)
    # The blend's spreads are measured on training abstracts (a fixed sample: enough for a
    # standard deviation, and cheap to re-score after each epoch).
    sample = np.random.default_rng(args.seed + 1).permutation(len(train))[: args.spread_sample]
    spread_sample = [train[int(i)] for i in sample]
    embedder = TextEmbedder()
    ridge_dev, ridge_sample = ridge_scores(dev, embedder), ridge_scores(spread_sample, embedder)
    print(f"{len(train)} train, {len(dev)} dev abstracts", file=sys.stderr)

    net = ContextScorerNet(base)
    for name, parameter in net.named_parameters():
        # The word embeddings stay the base model's: fewer weights to learn from ~2k abstracts,
        # and fewer to ship.
        parameter.requires_grad = name.startswith(LEARNED_PREFIXES)
    learned = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(learned, lr=args.lr, weight_decay=0.01)
    steps = args.epochs * math.ceil(len(train) / args.batch)
    warmup = max(1, int(0.06 * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup)))
    )
    net.train()
    report: dict[float, float] = {}
    blend = Blend(args.weight)
    for epoch in range(args.epochs):
        losses = []
        for step, batch in enumerate(epoch_batches(train, args.batch, rng)):
            examples = [train[i] for i in batch]
            scores = net([e.item for e in examples])
            loss = torch.stack(
                [
                    listwise_loss(s, e.targets, args.tau)
                    for s, e in zip(scores, examples, strict=True)
                ]
            ).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(learned, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            if step % 50 == 0:
                print(
                    f"  epoch {epoch} step {step} loss {np.mean(losses[-50:]):.4f} "
                    f"{time.perf_counter() - started:.0f}s",
                    file=sys.stderr,
                )
        blend = Blend(
            args.weight,
            within_abstract_spread(context_scores(net, spread_sample)),
            within_abstract_spread(ridge_sample),
        )
        report = dev_report(dev, ridge_dev, context_scores(net, dev), blend)
        print(f"epoch {epoch}: {blend}; dev ROUGE-1 by weight {report}", file=sys.stderr)
    save(
        net,
        args.out,
        {
            **blend.metadata(),
            "trained_on": f"{args.train.name}: {len(train)} abstracts",
            "method": f"listwise, tau={args.tau}, lr={args.lr}, epochs={args.epochs}, "
            f"batch={args.batch}, seed={args.seed}",
            "dev_rouge1_by_weight": json.dumps(report),
        },
    )
    print(
        json.dumps(
            {
                "out": str(args.out),
                "abstracts": len(train),
                "dev_rouge1_by_weight": report,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
