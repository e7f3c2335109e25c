"""Per-stage metrics through ``ray.serve.metrics``.

Ray exports them on each node's metrics port with a ``ray_`` prefix and Serve's own tags
(``deployment``, ``replica``, ``application``), so Prometheus and the Ray dashboard see
``ray_arm_stage_items_total{stage="embedder", deployment="Embedder", ...}``. The names and
labels are listed in README.md ("Per-stage metrics").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from ray.serve import metrics as serve_metrics

LATENCY_MS_BOUNDARIES = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]


def counter(name: str, description: str, tag_keys: tuple[str, ...] = ()) -> serve_metrics.Counter:
    # Ray annotates tag_keys as tuple[str]; any tuple of names works.
    return serve_metrics.Counter(name, description=description, tag_keys=cast(Any, tag_keys))


def gauge(name: str, description: str) -> serve_metrics.Gauge:
    return serve_metrics.Gauge(name, description=description)


def histogram(
    name: str, description: str, boundaries: Sequence[float], tag_keys: tuple[str, ...] = ()
) -> serve_metrics.Histogram:
    return serve_metrics.Histogram(
        name, description=description, boundaries=list(boundaries), tag_keys=cast(Any, tag_keys)
    )


def summaries_counter() -> serve_metrics.Counter:
    """Summaries by outcome: made, failed, flagged (Summarizer) and reused (Ingress)."""
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
