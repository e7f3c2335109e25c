"""Per-stage metrics through ``ray.serve.metrics`` (imported when a metric is made: replicas
make them, and this module imports without Ray).

Ray exports them on each node's metrics port with a ``ray_`` prefix and Serve's own tags
(``deployment``, ``replica``, ``application``), so Prometheus and the Ray dashboard see
``ray_arm_stage_items_total{stage="embedder", deployment="Embedder", ...}``. Every metric the
arm exports is defined here; README.md ("Watching each stage") lists them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from ray.serve import metrics as serve_metrics

LATENCY_MS_BOUNDARIES = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]


def counter(name: str, description: str, tag_keys: tuple[str, ...] = ()) -> serve_metrics.Counter:
    from ray.serve import metrics as serve_metrics

    # Ray annotates tag_keys as tuple[str]; any tuple of names works.
    return serve_metrics.Counter(name, description=description, tag_keys=cast(Any, tag_keys))


def gauge(name: str, description: str) -> serve_metrics.Gauge:
    from ray.serve import metrics as serve_metrics

    return serve_metrics.Gauge(name, description=description)


def histogram(
    name: str, description: str, boundaries: Sequence[float], tag_keys: tuple[str, ...] = ()
) -> serve_metrics.Histogram:
    from ray.serve import metrics as serve_metrics

    return serve_metrics.Histogram(
        name, description=description, boundaries=list(boundaries), tag_keys=cast(Any, tag_keys)
    )


def summaries_counter() -> serve_metrics.Counter:
    """Summaries by outcome: made, failed, flagged, shared (Summarizer) and reused (Ingress)."""
    return counter("arm_summaries_total", "Summaries by outcome.", ("outcome",))


class StageMetrics:
    """Items processed and latency of one stage: the figures every stage reports alike."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.items = counter(
            "arm_stage_items_total",
            "Items a stage processed (texts, papers, summaries).",
            ("stage",),
        )
        self.calls = counter("arm_stage_calls_total", "Calls a stage served.", ("stage",))
        self.latency = histogram(
            "arm_stage_latency_ms",
            "Wall time of one stage call, in ms.",
            LATENCY_MS_BOUNDARIES,
            ("stage",),
        )
        self.items.set_default_tags({"stage": stage})
        self.calls.set_default_tags({"stage": stage})
        self.latency.set_default_tags({"stage": stage})

    def record(self, items: int, seconds: float) -> None:
        """One call that handled ``items`` items in ``seconds``."""
        self.calls.inc()
        if items:
            self.items.inc(items)
        self.latency.observe(seconds * 1000.0)


class FetcherMetrics(StageMetrics):
    """The ArxivFetcher's: searches, and what each cost at arXiv."""

    def __init__(self) -> None:
        super().__init__("arxiv")
        self.requests = counter("arm_arxiv_requests_total", "HTTP requests sent to arXiv.")
        self.cache_hits = counter("arm_arxiv_cache_hits_total", "Searches served from cache.")
        self.retries = counter("arm_arxiv_retries_total", "arXiv requests retried.")
        self.gate_wait = histogram(
            "arm_arxiv_gate_wait_ms",
            "Time a search waited for the application's arXiv gate, in ms.",
            LATENCY_MS_BOUNDARIES,
        )

    def search(
        self,
        papers: int,
        seconds: float,
        *,
        cache_hit: bool,
        requests: int,
        retries: int,
        gate_wait_s: float,
    ) -> None:
        """One search: ``papers`` found in ``seconds``."""
        self.record(papers, seconds)
        if cache_hit:
            self.cache_hits.inc()
            return
        if not requests:  # answered by the local index alone: arXiv was not asked
            return
        self.requests.inc(requests)
        self.gate_wait.observe(gate_wait_s * 1000.0)
        if retries:
            self.retries.inc(retries)


class EmbedderMetrics(StageMetrics):
    """The Embedder's: encode runs, their sizes and how busy the model is."""

    def __init__(self) -> None:
        super().__init__("embedder")
        self.batch_sizes = histogram(
            "arm_embedder_batch_texts",
            "Texts per encode() run.",
            boundaries=[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
        )
        self.texts_per_s = gauge(
            "arm_embedder_texts_per_second", "Texts per second of the last encode() run."
        )
        self.reused = counter(
            "arm_embedder_texts_reused_total", "Texts answered from the vector cache."
        )
        self.busy = counter(
            "arm_embedder_busy_seconds_total", "Seconds spent in encode(): busy / wall = load."
        )

    def encode_run(self, asked: int, encoded: int, seconds: float) -> None:
        """One encode() run: ``asked`` texts, ``encoded`` of them new, in ``seconds``."""
        self.batch_sizes.observe(encoded)
        self.busy.inc(seconds)
        if asked > encoded:
            self.reused.inc(asked - encoded)
        if encoded and seconds > 0:
            self.texts_per_s.set(encoded / seconds)
        self.record(encoded, seconds)


class SummarizerMetrics(StageMetrics):
    """The Summarizer's: summaries by outcome."""

    def __init__(self) -> None:
        super().__init__("summarizer")
        self.outcomes = summaries_counter()

    def summary(self, seconds: float, *, made: bool, shared: bool, flagged: bool) -> None:
        """One call: a summary ``made`` (or failed), ``shared`` with another caller's."""
        self.record(0 if shared else 1, seconds)
        if shared:
            self.outcomes.inc(1, tags={"outcome": "shared"})
            return
        self.outcomes.inc(1, tags={"outcome": "made" if made else "failed"})
        if made and flagged:
            self.outcomes.inc(1, tags={"outcome": "flagged"})


class MemoryMetrics(StageMetrics):
    """The MemoryWriter's: operations on the store by kind."""

    def __init__(self) -> None:
        super().__init__("memory")
        self.ops = counter("arm_memory_operations_total", "Memory operations by kind.", ("op",))

    def operation(self, op: str, items: int, seconds: float) -> None:
        self.record(items, seconds)
        self.ops.inc(1, tags={"op": op})

    def hits(self, papers: int) -> None:
        """Papers a lookup found stored (their work is reused)."""
        if papers:
            self.ops.inc(papers, tags={"op": "hit"})


class IngressMetrics(StageMetrics):
    """The Ingress's: HTTP answers by route and status, summaries reused from memory."""

    def __init__(self) -> None:
        super().__init__("ingress")
        self.summaries = summaries_counter()
        self.requests = counter(
            "arm_requests_total", "HTTP requests by route and status.", ("route", "status")
        )

    def reused(self, summaries: int) -> None:
        """Summaries one request took from memory instead of making them."""
        if summaries:
            self.summaries.inc(summaries, tags={"outcome": "reused"})

    def answered(self, route: str, status: int) -> None:
        self.requests.inc(1, tags={"route": route, "status": str(status)})
