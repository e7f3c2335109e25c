"""The stage metrics' bookkeeping, with Ray's metric classes replaced by recorders: each call
counted once with its outcome (ok, failed, or timed_out when its caller cancels it)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from deployments.common import metrics


class Recorded:
    """Stands in for a Ray metric: keeps (value, tags) per update."""

    def __init__(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.name = name
        self.default: dict[str, str] = {}
        self.updates: list[tuple[float, dict[str, str]]] = []

    def set_default_tags(self, tags: dict[str, str]) -> None:
        self.default = tags

    def inc(self, value: float = 1.0, tags: dict[str, str] | None = None) -> None:
        self.updates.append((value, {**self.default, **(tags or {})}))

    observe = set = inc


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    for factory in ("counter", "gauge", "histogram"):
        monkeypatch.setattr(metrics, factory, Recorded)


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
