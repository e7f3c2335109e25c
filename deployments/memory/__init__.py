"""The MemoryWriter stage: what the arm has found, stored in Qdrant.

Core (plain Python): ``paper_memory`` (PaperMemory over qdrant-client). Deployment:
``deployment`` (MemoryWriter).
"""
