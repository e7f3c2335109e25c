"""Per-stage metrics through ``ray.serve.metrics`` (imported when a metric is made: replicas
make them, and this module imports without Ray).

Ray exports them on each node's metrics port with a ``ray_`` prefix and Serve's own tags
(``deployment``, ``replica``, ``application``), so Prometheus and the Ray dashboard see
``ray_arm_stage_items_total{stage="embedder", deployment="Embedder", ...}``. Every metric the
arm exports is defined here; docs/operations.md ("Dashboard, logs and metrics") lists them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    from ray.serve import metrics as serve_metrics

LATENCY_MS_BOUNDARIES = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]

# The ``outcome`` of one stage call: answered, raised, or cancelled by its caller (the Ingress
# gives each call a share of the request's deadline and cancels it when the share runs out).
CallOutcome = Literal["ok", "failed", "timed_out"]


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
    """Summaries by outcome: ok, failed, unfaithful (an ok one with a faithfulness warning),
    shared (Summarizer) and reused (Ingress)."""
    return counter("arm_summaries_total", "Summaries by outcome.", ("outcome",))


@dataclass
class CallRecord:
    """What a call tells ``StageMetrics.call`` before it ends: the items it handled."""

    items: int = 0


class StageMetrics:
    """Calls by outcome, items processed and latency of one stage: the figures every stage
    reports alike."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.items = counter(
            "arm_stage_items_total",
            "Items a stage processed (texts, papers, summaries).",
            ("stage",),
        )
        self.calls = counter(
            "arm_stage_calls_total",
            "Calls a stage served, by outcome: ok, failed, timed_out (cancelled by its caller).",
            ("stage", "outcome"),
        )
        self.latency = histogram(
            "arm_stage_latency_ms",
            "Wall time of one stage call, in ms.",
            LATENCY_MS_BOUNDARIES,
            ("stage",),
        )
        self.items.set_default_tags({"stage": stage})
        self.calls.set_default_tags({"stage": stage})
        self.latency.set_default_tags({"stage": stage})

    def record(self, items: int, seconds: float, outcome: CallOutcome = "ok") -> None:
        """One call that handled ``items`` items in ``seconds``, ending in ``outcome``."""
        self.calls.inc(1, tags={"outcome": outcome})
        if items:
            self.items.inc(items)
        self.latency.observe(seconds * 1000.0)

    @contextmanager
    def call(self) -> Iterator[CallRecord]:
        """Count the call run inside: ok when it returns (its ``items`` as set on the record),
        failed when it raises, timed_out when its caller cancels it."""
        record = CallRecord()
        started = time.perf_counter()
        outcome: CallOutcome = "failed"
        try:
            yield record
            outcome = "ok"
        except asyncio.CancelledError:
            outcome = "timed_out"
            raise
        finally:
            self.record(
                record.items if outcome == "ok" else 0, time.perf_counter() - started, outcome
            )


class FetcherMetrics(StageMetrics):
    """The ArxivFetcher's: searches, and every request to arXiv with its outcome (the client
    reports each as it ends, failures included: ``ArxivObserver``)."""

    def __init__(self) -> None:
        super().__init__("arxiv")
        self.requests = counter(
            "arm_arxiv_requests_total",
            "HTTP requests sent to arXiv, by outcome: ok, bad_request (arXiv's 400), throttled,"
            " server_error, timeout, connection, unreadable, other, cancelled.",
            ("outcome",),
        )
        self.throttles = counter(
            "arm_arxiv_throttles_total",
            "arXiv's refusals for rate, by kind: 429, 406, rate_exceeded (HTTP 200).",
            ("kind",),
        )
        self.cache_hits = counter("arm_arxiv_cache_hits_total", "Searches served from cache.")
        self.retries = counter("arm_arxiv_retries_total", "arXiv requests retried.")
        self.gate_wait = histogram(
            "arm_arxiv_gate_wait_ms",
            "Time an arXiv request waited for the application's arXiv gate, in ms.",
            LATENCY_MS_BOUNDARIES,
        )

        self.index_newest = gauge(
            "arm_index_newest_seconds",
            "First-version date of the local index's newest paper, as Unix time (s).",
        )

    def searched(self, *, cache_hit: bool) -> None:
        """One search answered (``call`` counts it)."""
        if cache_hit:
            self.cache_hits.inc()

    def index(self, newest: date | None) -> None:
        """What the local index holds now (``newest``: None without an index or records)."""
        if newest is not None:
            midnight = datetime.combine(newest, datetime.min.time(), tzinfo=UTC)
            self.index_newest.set(midnight.timestamp())

    # ArxivObserver: called by the arXiv client as each request ends.
    def request(self, outcome: str, throttle: str | None, gate_wait_s: float) -> None:
        self.requests.inc(1, tags={"outcome": outcome})
        if throttle is not None:
            self.throttles.inc(1, tags={"kind": throttle})
        self.gate_wait.observe(gate_wait_s * 1000.0)

    def retry(self) -> None:
        self.retries.inc()


class ReaderMetrics(StageMetrics):
    """The Reader's: papers read by source, parse time, disk-cache hits, failures by reason
    (``deployments.reader.reader.ReadObserver``). Its stage items are papers answered."""

    def __init__(self) -> None:
        super().__init__("reader")
        self.papers_read = counter(
            "arm_reader_papers_read_total",
            "Papers fetched from arXiv and parsed, by source: html or pdf.",
            ("source",),
        )
        self.parse_seconds = histogram(
            "arm_reader_read_ms",
            "Time to fetch and parse one paper, in ms.",
            LATENCY_MS_BOUNDARIES,
        )
        self.cache_lookups = counter(
            "arm_reader_cache_total",
            "Full-text disk cache lookups, by result: hit or miss.",
            ("result",),
        )
        self.failures = counter(
            "arm_reader_failures_total",
            "Papers that yielded no text, by reason (no_html, latexml_error, encrypted, "
            "no_text_layer, truncated, too_large, timeout, not_found, unavailable, empty).",
            ("reason",),
        )

    # ReadObserver: told by the PaperReader.
    def read(self, source: str, parse_s: float) -> None:
        self.papers_read.inc(1, tags={"source": source})
        self.parse_seconds.observe(parse_s * 1000.0)

    def cache(self, *, hit: bool) -> None:
        self.cache_lookups.inc(1, tags={"result": "hit" if hit else "miss"})

    def failed(self, reason: str) -> None:
        self.failures.inc(1, tags={"reason": reason})


class GateMetrics:
    """The ArxivGate's: searches waiting for a turn."""

    def __init__(self) -> None:
        self.waiting = gauge("arm_arxiv_gate_waiting", "arXiv requests waiting for a turn.")

    def queue(self, waiting: int) -> None:
        self.waiting.set(waiting)


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
        """One encode() run: ``asked`` texts, ``encoded`` of them new, in ``seconds`` (the
        calls it served are counted by ``call``)."""
        self.batch_sizes.observe(encoded)
        self.busy.inc(seconds)
        if asked > encoded:
            self.reused.inc(asked - encoded)
        if encoded and seconds > 0:
            self.texts_per_s.set(encoded / seconds)
        if encoded:
            self.items.inc(encoded)


class SummarizerMetrics(StageMetrics):
    """The Summarizer's: summaries by outcome."""

    def __init__(self) -> None:
        super().__init__("summarizer")
        self.outcomes = summaries_counter()

    def summary(self, *, made: bool, shared: bool, unfaithful: bool) -> None:
        """One summary: ``made`` (or failed), ``shared`` with another caller's, ``unfaithful``
        (made, with a warning that it states what the abstract does not)."""
        if shared:
            self.outcomes.inc(1, tags={"outcome": "shared"})
            return
        self.outcomes.inc(1, tags={"outcome": "ok" if made else "failed"})
        if made and unfaithful:
            self.outcomes.inc(1, tags={"outcome": "unfaithful"})


class MemoryMetrics(StageMetrics):
    """The MemoryWriter's: operations on the store by kind."""

    def __init__(self) -> None:
        super().__init__("memory")
        self.ops = counter("arm_memory_operations_total", "Memory operations by kind.", ("op",))

    def operation(self, op: str) -> None:
        self.ops.inc(1, tags={"op": op})

    def hits(self, papers: int) -> None:
        """Papers a lookup found stored (their work is reused)."""
        if papers:
            self.ops.inc(papers, tags={"op": "hit"})


class IngressMetrics(StageMetrics):
    """The Ingress's: HTTP answers by route, status and outcome, summaries reused from memory."""

    def __init__(self) -> None:
        super().__init__("ingress")
        self.summaries = summaries_counter()
        self.requests = counter(
            "arm_requests_total",
            "HTTP answers by route, status and outcome (docs/operations.md lists the outcomes).",
            ("route", "status", "outcome"),
        )
        self.execute_latency = histogram(
            "arm_execute_latency_ms",
            "Wall time of one answered /execute, in ms, by path: warm (no arXiv API request, no"
            " text embedded, no summary made) or cold.",
            LATENCY_MS_BOUNDARIES,
            ("path",),
        )

    def reused(self, summaries: int) -> None:
        """Summaries one request took from memory instead of making them."""
        if summaries:
            self.summaries.inc(summaries, tags={"outcome": "reused"})

    def executed(self, seconds: float, *, warm: bool) -> None:
        """One ``/execute`` answered in ``seconds``, ``warm`` (from what the arm holds) or not."""
        self.execute_latency.observe(seconds * 1000.0, tags={"path": "warm" if warm else "cold"})

    def answered(self, route: str, status: int, outcome: str) -> None:
        self.requests.inc(1, tags={"route": route, "status": str(status), "outcome": outcome})


class OutboxMetrics:
    """The Ingress replica's memory outbox (the file its replicas on one machine share)."""

    def __init__(self) -> None:
        self.entries = gauge("arm_outbox_entries", "Memory writes waiting in the outbox.")
        self.oldest_age = gauge(
            "arm_outbox_oldest_age_seconds", "Age of the oldest write waiting in the outbox, s."
        )

    def report(self, entries: int, oldest_age_s: float) -> None:
        """The outbox now: ``entries`` waiting, the oldest ``oldest_age_s`` (s) old (0: none)."""
        self.entries.set(entries)
        self.oldest_age.set(oldest_age_s)
