"""Idempotency-Key: one run per key, however many repeats arrive, at once or later."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from deployments.ingress.flow.idempotency import IdempotencyConflict, IdempotentRuns
from models.research import ResearchRequest
from tests.unit.ingress.in_process import ingress_client
from tests.unit.ingress.test_pipeline import make

BODY = ResearchRequest(query="graph neural networks", max_papers=2)


async def test_concurrent_repeats_run_the_pipeline_once() -> None:
    pipeline, stages = make()
    await pipeline.stage_info.learn_models(attempts=1)
    search = stages["fetcher"].search

    async def slow_search(request: Any) -> Any:
        await asyncio.sleep(0.05)  # the repeats arrive while the first still runs
        return await search(request)

    stages["fetcher"].search = slow_search
    runs = [
        pipeline.idempotent.run("key-1", BODY, lambda: pipeline.execute(BODY, "rid"))
        for _ in range(5)
    ]
    answers = await asyncio.gather(*runs)
    assert len(stages["fetcher"].asked) == 1 and stages["summarizer"].calls == 2
    assert [replayed for _, replayed in answers].count(False) == 1
    assert len({id(answer) for answer, _ in answers}) == 1  # the one answer, five times
    again, replayed = await pipeline.idempotent.run(
        "key-1", BODY, lambda: pipeline.execute(BODY, "r")
    )
    assert replayed and again is answers[0][0] and len(stages["fetcher"].asked) == 1


async def test_a_caller_that_goes_away_does_not_cancel_the_run() -> None:
    runs: IdempotentRuns[int] = IdempotentRuns()
    started, release, done = asyncio.Event(), asyncio.Event(), []

    async def slow() -> int:
        started.set()
        await release.wait()
        done.append(1)
        return 7

    first = asyncio.ensure_future(runs.run("k", BODY, slow))
    await started.wait()
    first.cancel()  # the client timed out: Serve cancels its request
    await asyncio.sleep(0)
    retry = asyncio.ensure_future(runs.run("k", BODY, slow))
    release.set()
    assert await retry == (7, True) and done == [1]  # the retry got the one run's answer


async def test_a_key_reused_with_another_body_is_refused() -> None:
    runs: IdempotentRuns[int] = IdempotentRuns()

    async def one() -> int:
        return 1

    assert await runs.run("k", BODY, one) == (1, False)
    other = BODY.model_copy(update={"max_papers": 3})
    with pytest.raises(IdempotencyConflict):
        await runs.run("k", other, one)


async def test_a_failure_is_not_kept_so_a_retry_runs_again() -> None:
    runs: IdempotentRuns[int] = IdempotentRuns()
    attempts = 0

    async def flaky() -> int:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("stage died")
        return 7

    with pytest.raises(RuntimeError):
        await runs.run("k", BODY, flaky)
    assert await runs.run("k", BODY, flaky) == (7, False) and attempts == 2


async def test_a_key_is_kept_for_its_window_and_the_oldest_go_first() -> None:
    now = [0.0]
    runs: IdempotentRuns[int] = IdempotentRuns(window_s=10, max_keys=2, clock=lambda: now[0])
    calls = 0

    async def count() -> int:
        nonlocal calls
        calls += 1
        return calls

    assert await runs.run("a", BODY, count) == (1, False)
    now[0] = 9.0
    assert await runs.run("a", BODY, count) == (1, True)
    now[0] = 11.0  # past the window: run again
    assert await runs.run("a", BODY, count) == (2, False)
    await runs.run("b", BODY, count)
    await runs.run("c", BODY, count)  # "a" is the oldest of three: dropped
    assert await runs.run("a", BODY, count) == (5, False)


def test_the_route_replays_and_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    body = {"query": "graph neural networks", "max_papers": 2}
    with ingress_client(monkeypatch, tmp_path) as client:
        first = client.post("/execute", json=body, headers={"Idempotency-Key": "abc-1"})
        again = client.post("/execute", json=body, headers={"Idempotency-Key": "abc-1"})
        assert first.status_code == again.status_code == 200
        assert "Idempotency-Replayed" not in first.headers
        assert again.headers["Idempotency-Replayed"] == "true"
        assert again.json() == first.json()  # the same answer, its request id included
        other = client.post(
            "/execute", json={**body, "max_papers": 3}, headers={"Idempotency-Key": "abc-1"}
        )
        assert other.status_code == 422
        assert other.json()["detail"][0]["field"].lower() == "header.idempotency-key"
        fresh = client.post("/execute", json=body)  # no key: runs again
        assert fresh.json()["provenance"]["request_id"] != first.json()["provenance"]["request_id"]
