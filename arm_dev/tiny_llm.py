"""A tiny causal language model built here, for running a real vLLM engine without a download.

Random weights (a 2-layer Llama, hidden size 128, ~2.3 M parameters, 17 MB in float32) and the
BERT WordPiece tokenizer of the packaged MiniLM, with a plain chat template so vLLM's chat path
works. Its answers are gibberish: it exists to show that the engine, Ray Serve LLM and the arm's
Summarizer work together (``make test-vllm-cpu``), not to summarise.

    python -m arm_dev.tiny_llm OUT_DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deployments.common.packaged_model import packaged_model_path

CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)
MAX_TOKENS = 1024  # the context: the TLDR prompt of a long abstract + a 40-word answer fit


def build_tiny_llm(out: Path, seed: int = 0) -> Path:
    """Write the model to ``out`` (safetensors, config, tokenizer); kept when already there."""
    if (out / "model.safetensors").exists():
        return out
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(packaged_model_path())
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=MAX_TOKENS,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
        dtype="float32",
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m arm_dev.tiny_llm", description=__doc__)
    parser.add_argument("out", type=Path, help="the folder to write the model to")
    print(build_tiny_llm(parser.parse_args().out))


if __name__ == "__main__":
    main()
