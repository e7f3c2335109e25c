"""The typed slice of the settings each stage receives (``Settings.for_stages`` makes them;
``graph.py`` binds them), and the constraints the flat settings share with them.

Each slice holds a ``tuning`` part: the knobs worth changing live, through the stage's
``user_config`` (Serve calls its ``reconfigure``; no replica restarts).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from arm_client.models import ArxivSource

SummarizerBackend = Literal["extractive", "vllm", "openai"]

# Each constraint once, shared by the flat setting and the stage's live knob it feeds; the
# defaults live in ``Settings`` alone.
Retries = Annotated[int, Field(ge=0, le=10)]
Seconds = Annotated[float, Field(ge=0.0)]
Deadline = Annotated[float, Field(gt=0.0)]
Kept = Annotated[int, Field(ge=0)]  # cache sizes: entries kept; 0 keeps nothing
BatchCalls = Annotated[int, Field(ge=1, le=1024)]
BatchWait = Annotated[float, Field(ge=0.0, le=10.0)]
TextsPerRun = Annotated[int, Field(ge=1)]
Words = Annotated[int, Field(ge=5, le=200)]


class _Slice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Tuned(_Slice):
    """A stage's slice: ``tuning`` is what its ``user_config`` may change live."""

    tuning: Any

    def tuned(self, user_config: Mapping[str, Any]) -> Self:
        """This slice with ``user_config`` laid over its tuning; unknown keys are refused.
        Deployments tune from the slice they were bound with, so a key taken out of
        ``user_config`` goes back to its configured value."""
        tuning_cls = type(self.tuning)
        merged = tuning_cls.model_validate({**self.tuning.model_dump(), **user_config})
        return self.model_copy(update={"tuning": merged})


class ArxivTuning(_Slice):
    num_retries: Retries
    cache_ttl_s: Seconds
    cache_size: Kept


class IndexSettings(_Slice):
    """Where the local arXiv index lives: a Qdrant server (``qdrant_url``; the key is read by
    the replica) or an embedded folder (``path``)."""

    qdrant_url: str | None
    path: str
    collection: str


class ArxivSettings(_Tuned):
    """The ArxivFetcher's slice. ``source`` None: the index when it has records, else the API."""

    api_url: str
    timeout_s: float
    backoff_base_s: float
    source: ArxivSource | None
    index: IndexSettings
    tuning: ArxivTuning


class GateTuning(_Slice):
    min_interval_s: Seconds


class GateSettings(_Tuned):
    """The ArxivGate's slice. ``least_interval_s``: the shortest ``min_interval_s`` a live
    ``user_config`` may set (arXiv's 3 s on its own hosts, unless overridden; else 0)."""

    least_interval_s: float = 0.0
    tuning: GateTuning


ARXIV_INTERVAL_S = 3.0  # arXiv's terms: one request every 3 seconds, one connection at a time


def on_arxiv_hosts(url: str) -> bool:
    """Whether ``url`` is served by arXiv itself (arxiv.org or one of its subdomains)."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host == "arxiv.org" or host.endswith(".arxiv.org")


class EmbedderTuning(_Slice):
    max_batch_size: BatchCalls
    batch_wait_timeout_s: BatchWait
    max_texts: TextsPerRun
    cache_size: Kept


class EmbedderSettings(_Tuned):
    """The Embedder's slice. ``model`` None: the packaged MiniLM. ``dimension``: the vector
    length the other stages were told (None: not known; the model's is used)."""

    model: str | None
    dimension: int | None
    device: str
    batch_size: int
    threads: int | None
    tuning: EmbedderTuning


class SummarizerTuning(_Slice):
    max_words: Words
    timeout_s: Deadline
    cache_size: Kept


class SummarizerSettings(_Tuned):
    """The Summarizer's slice; ``OPENAI_API_KEY`` is read by its replica."""

    backend: SummarizerBackend
    model: str | None
    context: bool
    openai_base_url: str | None
    tuning: SummarizerTuning


class MemorySettings(_Slice):
    """The MemoryWriter's slice; ``QDRANT_API_KEY`` is read by its replica. ``dimension``:
    the vectors' length (None: the stored collection's)."""

    dimension: int | None
    qdrant_url: str | None
    qdrant_path: str
    collection: str


class ReaderSettings(_Slice):
    """The Reader's slice: where full texts come from and how much of them is kept.
    ``QDRANT_API_KEY`` is read by its replica; passages live next to memory (``qdrant_url``
    or ``qdrant_path``) in ``collection``."""

    html_url: str
    pdf_url: str
    timeout_s: float
    max_body_bytes: int
    cache_path: str
    cache_bytes: int
    dimension: int | None
    qdrant_url: str | None
    qdrant_path: str
    collection: str


class IngressTuning(_Slice):
    query_cache_size: Kept


class IngressSettings(_Tuned):
    """The Ingress's slice; ``ARM_API_KEY`` is read by its replica. ``docs``: serve /docs,
    /redoc and /openapi.json (behind the key when one is set)."""

    arm_id: str
    docs: bool
    max_candidates: int
    arxiv_source: ArxivSource | None
    arxiv_min_interval_s: float
    outbox_path: str
    outbox_max_entries: int
    memory_write_timeout_s: float
    max_in_flight: int
    request_deadline_s: float
    evidence_deadline_s: float
    mcp_allowed_hosts: str
    tuning: IngressTuning


class StageSettings(_Slice):
    """Every stage's slice, as ``graph.py`` binds them."""

    arxiv: ArxivSettings
    gate: GateSettings
    embedder: EmbedderSettings
    summarizer: SummarizerSettings
    memory: MemorySettings
    reader: ReaderSettings
    ingress: IngressSettings
