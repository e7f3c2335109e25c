"""The extractive summarizer's contextual scorer: its input layout, the shipped weights, and how
its scores blend with the ridge scorer's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import save_file
from transformers import AutoTokenizer

from deployments.common.packaged_model import packaged_model_path
from deployments.summarizer.context_scorer import (
    MAX_TOKENS,
    WEIGHTS_FILE,
    Blend,
    ContextScorer,
    ContextScorerNet,
    abstract_input,
    within_abstract_spread,
)


@pytest.fixture(scope="module")
def scorer() -> ContextScorer:
    loaded = ContextScorer.load()
    assert loaded is not None, f"{WEIGHTS_FILE} is missing"
    return loaded


def test_input_is_one_sequence_with_a_span_per_sentence() -> None:
    tokenizer = AutoTokenizer.from_pretrained(packaged_model_path())
    sentences = ["We propose a graph network.", "It is fast."]
    item = abstract_input(tokenizer, sentences)
    assert item.ids[0] == tokenizer.cls_token_id and item.ids[-1] == tokenizer.sep_token_id
    for sentence, (start, end) in zip(sentences, item.spans, strict=True):
        assert tokenizer.decode(item.ids[start:end]) == sentence.lower()
        assert item.ids[end] == tokenizer.sep_token_id


def test_sentences_past_the_token_limit_get_no_span() -> None:
    tokenizer = AutoTokenizer.from_pretrained(packaged_model_path())
    long_sentence = " ".join(["word"] * 300) + "."
    item = abstract_input(tokenizer, [long_sentence, long_sentence, "We propose X."])
    assert len(item.ids) == MAX_TOKENS
    assert item.spans[0][1] > item.spans[0][0]
    assert item.spans[2][0] == item.spans[2][1] == MAX_TOKENS


def test_shipped_scorer_prefers_the_contribution_over_background(scorer: ContextScorer) -> None:
    sentences = [
        "Graph neural networks are widely used for molecular property prediction.",
        "However, they struggle to capture long-range interactions between atoms.",
        "We propose a message-passing scheme with learned virtual edges that captures "
        "long-range interactions at linear cost.",
        "Experiments are conducted on three benchmarks.",
    ]
    scores = scorer.score(sentences)
    assert scores.shape == (4,)
    assert int(np.argmax(scores)) == 2
    assert np.array_equal(scores, scorer.score(sentences))  # deterministic
    blend = scorer.blend  # measured when it was trained, shipped with it
    assert 0.0 < blend.weight < 1.0 and blend.context_spread > 0 and blend.ridge_spread > 0


def test_unscored_sentences_rank_last(scorer: ContextScorer) -> None:
    filler = " ".join(["background"] * 600) + "."
    scores = scorer.score(["We propose a new method.", filler, "We show it works."])
    assert scores[2] == scores.min() and np.isfinite(scores).all()


def test_missing_file_means_no_scorer_and_a_foreign_file_is_refused(tmp_path: Path) -> None:
    assert ContextScorer.load(tmp_path / "absent.safetensors") is None
    foreign = tmp_path / "foreign.safetensors"
    import torch

    save_file({"head.weight": torch.zeros(1, 384)}, str(foreign))
    with pytest.raises(ValueError, match="retrain"):
        ContextScorer.load(foreign)


def test_learned_state_is_the_layers_and_the_head_only() -> None:
    names = set(ContextScorerNet(packaged_model_path()).learned_state())
    assert "head.weight" in names
    assert all(n.startswith(("encoder.encoder.layer.", "head.")) for n in names)
    assert not any("embeddings" in n for n in names)


def test_blend_follows_its_weight() -> None:
    ridge = np.array([3.0, 1.0, 2.0])
    context = np.array([0.0, 5.0, 1.0])
    assert int(np.argmax(Blend(0.0).combine(ridge, context))) == 0
    assert int(np.argmax(Blend(1.0).combine(ridge, context))) == 1


def test_a_sure_scorer_outvotes_an_unsure_one() -> None:
    blend = Blend(weight=0.6, context_spread=1.0, ridge_spread=6.0)
    ridge = np.array([-5.0, 11.0, 2.0])  # sentence 1 far ahead: 1.5 spreads above the next
    context = np.array([1.5, 2.1, 2.8])  # sentence 2 slightly ahead: 0.7 spreads
    assert int(np.argmax(blend.combine(ridge, context))) == 1
    close_ridge = np.array([-5.0, 3.0, 2.0])  # a close call for the ridge: context decides
    assert int(np.argmax(blend.combine(close_ridge, context))) == 2


def test_spread_ignores_each_abstracts_offset() -> None:
    scores = [np.array([1.0, 3.0]), np.array([101.0, 103.0])]
    assert within_abstract_spread(scores) == pytest.approx(1.0)


def test_blend_travels_in_the_file_metadata() -> None:
    blend = Blend(0.55, 1.25, 6.5)
    assert Blend.from_metadata(blend.metadata()) == blend
    with pytest.raises(ValueError, match="retrain"):
        Blend.from_metadata({"weight": "0.6"})
