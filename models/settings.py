"""The arm's one settings model: ``serve_config.yaml`` args, overridden by environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr

SummarizerBackend = Literal["extractive", "vllm", "openai"]

# Fields that never travel through bind() arguments (they would be stored in Serve's config
# checkpoint); each replica reads them from its own environment.
SECRET_FIELDS = ("openai_api_key", "arm_api_key", "qdrant_api_key")


class Settings(BaseModel):
    """Every tunable of the arm. Environment variable = field name in upper case."""

    arm_id: str = "research-arm"
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_min_interval_s: float = Field(default=3.0, ge=0.0, description="arXiv: >= 3 s apart.")
    arxiv_timeout_s: float = Field(default=30.0, gt=0.0)
    arxiv_num_retries: int = Field(default=3, ge=0, le=10)
    arxiv_backoff_base_s: float = Field(default=2.0, ge=0.0)
    arxiv_cache_ttl_s: float = Field(
        default=24 * 3600.0, ge=0.0, description="arXiv changes daily."
    )
    arxiv_cache_size: int = Field(default=2048, ge=0)
    arxiv_max_results: int = Field(default=50, ge=1, le=2000, description="Cap on candidates.")

    qdrant_url: str | None = None
    qdrant_path: str = "./data/qdrant"
    qdrant_api_key: SecretStr | None = None
    qdrant_collection: str = "papers"

    embedding_model: str | None = Field(default=None, description="None: the packaged MiniLM.")
    embedding_device: str = "cpu"
    embedding_batch_size: int = Field(
        default=8, ge=1, le=1024, description="Texts per forward pass; 4-8 is fastest on CPU."
    )
    embedding_max_texts: int = Field(
        default=512, ge=1, description="Most texts one encode() run takes (memory bound)."
    )
    embedding_cache_size: int = Field(
        default=20000, ge=0, description="Recent vectors kept by the Embedder (1.5 KB each)."
    )
    embedding_threads: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="CPU only: shards of each batch encoded in parallel, one thread each.",
    )

    summarizer_backend: SummarizerBackend = "extractive"
    summarizer_model: str | None = None
    summarizer_context: bool = Field(
        default=True,
        description="extractive: also rate sentences with the fine-tuned contextual MiniLM "
        "(~65 ms of a core per abstract, +0.6 ROUGE-1); false: the ridge scorer alone.",
    )
    summary_max_words: int = Field(default=30, ge=5, le=200)
    summary_timeout_s: float = Field(default=60.0, gt=0.0)
    summary_cache_size: int = Field(default=4096, ge=0, description="Recent summaries kept.")
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None

    arm_api_key: SecretStr | None = None

    @classmethod
    def load(
        cls, args: dict[str, Any] | None = None, environ: dict[str, str] | None = None
    ) -> Settings:
        """``args`` (from the config), then every set environment variable on top."""
        env = os.environ if environ is None else environ
        merged: dict[str, Any] = {k: v for k, v in (args or {}).items() if v is not None}
        for name in cls.model_fields:
            value = env.get(name.upper())
            if value not in (None, ""):
                merged[name] = value
        return cls.model_validate(merged)

    def resolved(self) -> Settings:
        """The same settings with relative paths made absolute (the replicas' cwd may differ)."""
        return self.model_copy(update={"qdrant_path": str(Path(self.qdrant_path).resolve())})

    def public_args(self) -> dict[str, Any]:
        """What may travel through ``bind()``: everything but the secrets."""
        return self.model_dump(exclude=set(SECRET_FIELDS))
