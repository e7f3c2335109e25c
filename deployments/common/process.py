"""Process-wide settings of a replica, made in one place when it starts.

Cores never change process state in their constructors: a replica (or a benchmark) calls
``configure_model_process`` once before loading a model.
"""

from __future__ import annotations

import os


def configure_model_process(torch_threads: int | None = None) -> None:
    """Before a model loads: no tokenizer thread pool (it would compete with the encode
    workers for the cores), no download progress bars (a bar per replica start is log noise),
    and ``torch_threads`` intra-op threads when given (1 for single-threaded encode shards)."""
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    if torch_threads is not None:
        import torch

        torch.set_num_threads(torch_threads)
