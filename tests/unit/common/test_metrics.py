"""The stage metrics' bookkeeping, with Ray's metric classes replaced by recorders: each call
counted once with its outcome (ok, failed, or timed_out when its caller cancels it)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from deployments.common import metrics


class Recorded:
    """Stands in for a Ray metric: keeps (value, tags) per update, and refuses tags other than
    its declared keys, or a key left unset, as Ray does."""

    def __init__(
        self, name: str, description: str = "", tag_keys: tuple[str, ...] = (), **kw: Any
    ) -> None:
        self.name = name
        self.tag_keys = set(tag_keys)
        self.default: dict[str, str] = {}
        self.updates: list[tuple[float, dict[str, str]]] = []

    def set_default_tags(self, tags: dict[str, str]) -> None:
        assert set(tags) <= self.tag_keys, (self.name, tags)
        self.default = tags

    def inc(self, value: float = 1.0, tags: dict[str, str] | None = None) -> None:
        tags = {**self.default, **(tags or {})}
        assert set(tags) == self.tag_keys, (self.name, tags, self.tag_keys)
        self.updates.append((value, tags))

    observe = set = inc


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    """``metrics``' factories make recorders, with the names and tag keys they were given."""
    monkeypatch.setattr(metrics, "counter", Recorded)
    monkeypatch.setattr(metrics, "gauge", Recorded)
    monkeypatch.setattr(
        metrics,
        "histogram",
        lambda name, description, boundaries, tag_keys=(): Recorded(name, description, tag_keys),
    )


async def _served(stage: metrics.StageMetrics, work: Any, items: int = 0) -> None:
    with stage.call() as call:
        await work
        call.items = items


@pytest.mark.usefixtures("recorded")
async def test_each_call_is_counted_once_with_its_outcome() -> None:
    stage = metrics.StageMetrics("embedder")
    await _served(stage, asyncio.sleep(0), items=3)

    async def fails() -> None:
        raise RuntimeError("the model is away")

    with pytest.raises(RuntimeError):
        await _served(stage, fails(), items=3)
    hung = asyncio.create_task(_served(stage, asyncio.sleep(60), items=3))
    await asyncio.sleep(0.01)
    hung.cancel()  # the Ingress's share of the deadline ran out
    with pytest.raises(asyncio.CancelledError):
        await hung
    calls: Any = stage.calls
    outcomes = [tags["outcome"] for _, tags in calls.updates]
    assert outcomes == ["ok", "failed", "timed_out"]
    assert all(tags["stage"] == "embedder" for _, tags in calls.updates)
    items: Any = stage.items
    assert [value for value, _ in items.updates] == [3]  # only what a call that ended ok did
    latency: Any = stage.latency
    assert len(latency.updates) == 3


@pytest.mark.usefixtures("recorded")
def test_every_metric_is_updated_with_exactly_its_tag_keys() -> None:
    fetcher = metrics.FetcherMetrics()
    fetcher.request("throttled", "429", 0.5)
    fetcher.request("ok", None, 0.0)
    fetcher.retry()
    fetcher.searched(cache_hit=True)
    fetcher.record(3, 0.1, "failed")
    ingress = metrics.IngressMetrics()
    ingress.answered("/execute", 503, "timeout")
    ingress.reused(2)
    memory = metrics.MemoryMetrics()
    memory.operation("upsert")
    memory.hits(2)
    embedder = metrics.EmbedderMetrics()
    embedder.encode_run(4, 3, 0.2)
    metrics.OutboxMetrics().report(2, 30.0)
    metrics.GateMetrics().queue(1)


@pytest.mark.usefixtures("recorded")
def test_summaries_count_failed_and_unfaithful_apart() -> None:
    summarizer = metrics.SummarizerMetrics()
    summarizer.summary(made=True, shared=False, unfaithful=False)
    summarizer.summary(made=False, shared=False, unfaithful=False)
    summarizer.summary(made=True, shared=False, unfaithful=True)
    summarizer.summary(made=True, shared=True, unfaithful=False)
    outcomes: Any = summarizer.outcomes
    assert [tags["outcome"] for _, tags in outcomes.updates] == [
        "ok",
        "failed",
        "ok",
        "unfaithful",
        "shared",
    ]
