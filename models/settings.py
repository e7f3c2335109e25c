"""The arm's one settings model; ``for_stages`` cuts it into the typed slice each stage
receives (``models.stage_settings``, re-exported here).

``Settings`` is flat: ``serve_config.yaml``'s ``args`` and the environment use the same names
(environment variable = field name in upper case), and the environment wins. ``graph.py``
resolves it once and hands each stage only its own slice (``ArxivSettings``, ...).

Each slice holds a ``tuning`` part: the knobs worth changing live. A stage's ``user_config`` in
``serve_config.yaml`` overrides them for that stage alone (Serve calls its ``reconfigure``; no
replica restarts). Everything else changes with the application's ``args`` or environment, and
Serve restarts every stage then: it versions a config-deployed application by its args as one.

Secrets are not settings: they never travel through ``bind()`` (Serve would keep them in its
config checkpoint). The replica that needs one reads it with ``read_secret``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, model_validator

from arm_client.models import ArxivSource
from models.stage_settings import (  # re-exported: the stages import their slice from here
    ARXIV_INTERVAL_S,
    ArxivSettings,
    ArxivTuning,
    BatchCalls,
    BatchWait,
    Deadline,
    EmbedderSettings,
    EmbedderTuning,
    GateSettings,
    GateTuning,
    IndexSettings,
    IngressSettings,
    IngressTuning,
    Kept,
    MemorySettings,
    ReaderSettings,
    Retries,
    Seconds,
    StageSettings,
    SummarizerBackend,
    SummarizerSettings,
    SummarizerTuning,
    TextsPerRun,
    Words,
    on_arxiv_hosts,
)

SecretName = Literal["arm_api_key", "openai_api_key", "qdrant_api_key"]
SECRET_NAMES: tuple[SecretName, ...] = ("arm_api_key", "openai_api_key", "qdrant_api_key")


def read_secret(name: SecretName, environ: Mapping[str, str] | None = None) -> SecretStr | None:
    """A secret from this process's environment (``NAME`` upper-cased); None when unset."""
    value = (os.environ if environ is None else environ).get(name.upper(), "")
    return SecretStr(value) if value else None


class Settings(BaseModel):
    """Every tunable of the arm. Environment variable = field name in upper case."""

    arm_id: str = "research-arm"
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_min_interval_s: Seconds = Field(default=3.0, description="arXiv: >= 3 s apart.")
    arxiv_interval_override: bool = Field(
        default=False,
        description="Allow ARXIV_MIN_INTERVAL_S under 3 s on arXiv's host names (a mirror).",
    )
    arxiv_timeout_s: Deadline = 30.0
    arxiv_num_retries: Retries = 3
    arxiv_backoff_base_s: Seconds = 2.0
    arxiv_cache_ttl_s: Seconds = Field(default=24 * 3600.0, description="arXiv changes daily.")
    arxiv_cache_size: Kept = 2048
    arxiv_max_results: int = Field(default=50, ge=1, le=2000, description="Cap on candidates.")
    arxiv_source: ArxivSource | None = Field(
        default=None, description="api | index | hybrid; unset: the index when it has records."
    )
    arxiv_html_url: str | None = Field(
        default=None,
        description="Reader: arXiv's LaTeXML renderings; unset: https://arxiv.org/html, or "
        "/html beside ARXIV_API_URL when that is not arXiv's (a mirror or the stand-in).",
    )
    arxiv_pdf_url: str | None = Field(
        default=None, description="Reader: the PDFs; unset: as ARXIV_HTML_URL, with /pdf."
    )
    fulltext_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=110,
        description="Reader: one body, whole (under the arXiv gate's 120 s turn lease).",
    )
    fulltext_max_bytes: int = Field(
        default=32 << 20, ge=1 << 16, le=1 << 30, description="Reader: one body's size cap."
    )
    fulltext_cache_path: str = Field(
        default="./data/fulltext", description="Reader: parsed full texts (gzip JSON)."
    )
    fulltext_cache_bytes: int = Field(
        default=2 << 30, ge=0, description="Reader: the text cache's bound (least read go)."
    )
    passages_collection: str = "passages"
    evidence_deadline_s: Deadline = Field(
        default=20.0, description="Ingress: how long evidence waits for papers to be read."
    )
    index_path: str = Field(default="./data/index", description="The embedded local index.")
    index_collection: str = "arxiv_index"

    qdrant_url: str | None = None
    qdrant_path: str = "./data/qdrant"
    qdrant_collection: str = "papers"
    outbox_path: str = Field(
        default="./data/outbox/memory.sqlite",
        description="Memory writes not taken yet, kept until they land (SQLite).",
    )
    outbox_max_entries: int = Field(
        default=2000, ge=1, le=1_000_000, description="Pending writes kept, at most."
    )
    memory_write_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="A memory write not done by then waits in the outbox.",
    )
    max_in_flight: int = Field(
        default=64, ge=1, le=10_000, description="Work requests one Ingress replica runs at once."
    )
    request_deadline_s: float = Field(
        default=60.0, gt=0, le=3600, description="A request's answer or 503, within this (s)."
    )

    embedding_model: str | None = Field(default=None, description="None: the packaged MiniLM.")
    embedding_dimension: int | None = Field(
        default=None, ge=1, le=65536, description="Vector length; unset: the model folder's."
    )
    embedding_device: str = "cpu"
    embedding_batch_size: int = Field(
        default=8, ge=1, le=1024, description="Texts per forward pass; 4-8 is fastest on CPU."
    )
    embedding_max_batch_size: BatchCalls = Field(
        default=16, description="Calls one Serve batch gathers."
    )
    embedding_batch_wait_timeout_s: BatchWait = 0.01
    embedding_max_texts: TextsPerRun = Field(
        default=512, description="Most texts one encode() run takes (memory bound)."
    )
    embedding_cache_size: Kept = Field(
        default=20000, description="Recent vectors kept by the Embedder (1.5 KB each)."
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
    summary_max_words: Words = 40
    summary_timeout_s: Deadline = 60.0
    summary_cache_size: Kept = Field(default=4096, description="Recent summaries kept.")
    openai_base_url: str | None = None

    query_cache_size: Kept = Field(default=4096, description="Ingress: query vectors kept.")
    arm_docs: bool = Field(
        default=True, description="Ingress: serve /docs, /redoc and /openapi.json (ARM_DOCS)."
    )
    mcp_allowed_hosts: str = Field(
        default="localhost,127.0.0.1,[::1]", description="Ingress: /mcp's Host allowlist (mcp.md)."
    )

    @model_validator(mode="after")
    def _polite_to_arxiv(self) -> Self:
        if self.arxiv_min_interval_s < ARXIV_INTERVAL_S and self._holds_arxiv_to_its_limit():
            raise ValueError(
                f"ARXIV_MIN_INTERVAL_S={self.arxiv_min_interval_s:g} is under "
                f"{ARXIV_INTERVAL_S:g} s, and {self._on_arxiv()} is arXiv's own: its terms "
                "allow one request every 3 s. Set ARXIV_MIN_INTERVAL_S=3, or "
                "ARXIV_INTERVAL_OVERRIDE=true for a mirror of your own under that name"
            )
        return self

    def _holds_arxiv_to_its_limit(self) -> bool:
        # One gate for every request to arXiv: the API's and the Reader's full texts.
        return bool(self._on_arxiv()) and not self.arxiv_interval_override

    def _on_arxiv(self) -> str | None:
        """The first of the arm's arXiv URLs that arXiv itself serves, if any."""
        urls = (self.arxiv_api_url, *self.fulltext_urls())
        return next((url for url in urls if on_arxiv_hosts(url)), None)

    def fulltext_urls(self) -> tuple[str, str]:
        """(HTML, PDF) base URLs of the full texts (see ``arxiv_html_url``)."""
        if on_arxiv_hosts(self.arxiv_api_url):
            origin = "https://arxiv.org"
        else:
            parts = urlsplit(self.arxiv_api_url)
            origin = f"{parts.scheme}://{parts.netloc}"
        html = self.arxiv_html_url or f"{origin}/html"
        return html, self.arxiv_pdf_url or f"{html.rstrip('/').removesuffix('/html')}/pdf"

    @classmethod
    def load(
        cls, args: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Self:
        """``args`` (from the config), then every set environment variable on top."""
        env = os.environ if environ is None else environ
        merged: dict[str, Any] = {k: v for k, v in (args or {}).items() if v is not None}
        for name in cls.model_fields:
            value = env.get(name.upper())
            if value not in (None, ""):
                merged[name] = value
        return cls.model_validate(merged)

    def resolved(self) -> Self:
        """The same settings with relative paths made absolute (the replicas' cwd may differ)."""
        paths = ("qdrant_path", "index_path", "outbox_path", "fulltext_cache_path")
        return self.model_copy(update={p: str(Path(getattr(self, p)).resolve()) for p in paths})

    def for_stages(self) -> StageSettings:
        """Each stage's own slice: a stage never sees another stage's settings."""
        return StageSettings(
            arxiv=ArxivSettings(
                api_url=self.arxiv_api_url,
                timeout_s=self.arxiv_timeout_s,
                backoff_base_s=self.arxiv_backoff_base_s,
                source=self.arxiv_source,
                index=IndexSettings(
                    qdrant_url=self.qdrant_url,
                    path=self.index_path,
                    collection=self.index_collection,
                ),
                tuning=ArxivTuning(
                    num_retries=self.arxiv_num_retries,
                    cache_ttl_s=self.arxiv_cache_ttl_s,
                    cache_size=self.arxiv_cache_size,
                ),
            ),
            gate=GateSettings(
                least_interval_s=ARXIV_INTERVAL_S if self._holds_arxiv_to_its_limit() else 0.0,
                tuning=GateTuning(min_interval_s=self.arxiv_min_interval_s),
            ),
            embedder=EmbedderSettings(
                model=self.embedding_model,
                dimension=self.embedding_dimension,
                device=self.embedding_device,
                batch_size=self.embedding_batch_size,
                threads=self.embedding_threads,
                tuning=EmbedderTuning(
                    max_batch_size=self.embedding_max_batch_size,
                    batch_wait_timeout_s=self.embedding_batch_wait_timeout_s,
                    max_texts=self.embedding_max_texts,
                    cache_size=self.embedding_cache_size,
                ),
            ),
            summarizer=SummarizerSettings(
                backend=self.summarizer_backend,
                model=self.summarizer_model,
                context=self.summarizer_context,
                openai_base_url=self.openai_base_url,
                tuning=SummarizerTuning(
                    max_words=self.summary_max_words,
                    timeout_s=self.summary_timeout_s,
                    cache_size=self.summary_cache_size,
                ),
            ),
            memory=MemorySettings(
                dimension=self.embedding_dimension,
                qdrant_url=self.qdrant_url,
                qdrant_path=self.qdrant_path,
                collection=self.qdrant_collection,
            ),
            reader=ReaderSettings(
                html_url=self.fulltext_urls()[0],
                pdf_url=self.fulltext_urls()[1],
                timeout_s=self.fulltext_timeout_s,
                max_body_bytes=self.fulltext_max_bytes,
                cache_path=self.fulltext_cache_path,
                cache_bytes=self.fulltext_cache_bytes,
                dimension=self.embedding_dimension,
                qdrant_url=self.qdrant_url,
                qdrant_path=self.qdrant_path,
                collection=self.passages_collection,
            ),
            ingress=IngressSettings(
                arm_id=self.arm_id,
                docs=self.arm_docs,
                max_candidates=self.arxiv_max_results,
                arxiv_source=self.arxiv_source,
                arxiv_min_interval_s=self.arxiv_min_interval_s,
                outbox_path=self.outbox_path,
                outbox_max_entries=self.outbox_max_entries,
                memory_write_timeout_s=self.memory_write_timeout_s,
                max_in_flight=self.max_in_flight,
                request_deadline_s=self.request_deadline_s,
                evidence_deadline_s=self.evidence_deadline_s,
                mcp_allowed_hosts=self.mcp_allowed_hosts,
                tuning=IngressTuning(query_cache_size=self.query_cache_size),
            ),
        )
