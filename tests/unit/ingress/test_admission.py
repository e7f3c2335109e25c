"""Admission: a burst beyond the bound gets a fast 503 in the arm's shape; probes never wait."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from fastapi import FastAPI

from deployments.ingress.http.admission import Admission
from deployments.ingress.http.replica import REPLICA


def slow_app(release: asyncio.Event) -> FastAPI:
    app = FastAPI()
    app.add_middleware(Admission, retry_after_s=7)

    @app.post("/execute")
    async def execute() -> dict[str, str]:
        await release.wait()
        return {"ok": "yes"}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def _settled(tasks: list[asyncio.Task[httpx.Response]], done: int) -> list[Any]:
    """The tasks done once ``done`` of them are (within 5 s)."""
    for _ in range(500):
        finished = [t for t in tasks if t.done()]
        if len(finished) >= done:
            return finished
        await asyncio.sleep(0.01)
    raise AssertionError(f"only {len(finished)} of {len(tasks)} answered")


async def test_a_burst_beyond_the_bound_is_refused_at_once(monkeypatch: Any) -> None:
    monkeypatch.setattr(REPLICA, "max_in_flight", 4)  # what an Ingress with MAX_IN_FLIGHT=4 sets
    release = asyncio.Event()
    app = slow_app(release)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://arm") as client:
        started = time.monotonic()
        burst = [asyncio.create_task(client.post("/execute")) for _ in range(12)]
        refused = await _settled(burst, 8)
        assert time.monotonic() - started < 5  # answered while the admitted ones still run
        assert len(refused) == 8 and not any(t.done() for t in burst if t not in refused)
        for task in refused:
            response = task.result()
            assert response.status_code == 503 and response.headers["retry-after"] == "7"
            body = response.json()
            assert body["error"] == "overloaded" and body["request_id"]
        assert (await client.get("/health")).status_code == 200  # probes are never refused
        release.set()
        admitted = await asyncio.gather(*(t for t in burst if t not in refused))
        assert [r.status_code for r in admitted] == [200] * 4

        # The bound the Ingress sets (its settings, on REPLICA) is read on every request.
        monkeypatch.setattr(REPLICA, "max_in_flight", 5)
        release.clear()
        burst = [asyncio.create_task(client.post("/execute")) for _ in range(6)]
        (refused_one,) = await _settled(burst, 1)
        assert refused_one.result().status_code == 503
        release.set()
        admitted = await asyncio.gather(*(t for t in burst if t is not refused_one))
        assert [r.status_code for r in admitted] == [200] * 5
