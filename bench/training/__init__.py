"""Model training: the summarizer's learned weights (written into ``deployments/summarizer``).

sentence_scorer  the extractive scorer's ridge model (``extractive_model.json``)
context_scorer   the context scorer's layers and head (``extractive_context.safetensors``)
"""
