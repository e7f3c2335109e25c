"""The Summarizer stage: a one-sentence TLDR of a paper from its title and abstract.

Backends (``SUMMARIZER_BACKEND``): ``extractive`` (CPU default: ``extractive``, with the ridge
``sentence_scorer`` and the fine-tuned ``context_scorer``), ``vllm`` and ``openai`` (``llm``).
Cores (plain Python): ``text``, ``faithfulness``, those backends, ``backend`` (the protocol,
the factory, the checked call), ``shared_summaries``. Deployment: ``deployment`` (Summarizer).
"""
