"""The Embedder stage: sentence-transformers vectors, batched across concurrent requests.

Cores (plain Python): ``text_embedder`` (the model), ``vector_cache`` (no text encoded twice),
``batcher`` (continuous batching). Deployment: ``deployment`` (Embedder).
"""
