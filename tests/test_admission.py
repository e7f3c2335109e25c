"""Admission: a burst beyond the bound gets a fast 503 in the arm's shape; probes never wait."""

from __future__ import annotations

import asyncio
import time

import httpx
from fastapi import FastAPI

from deployments.ingress.admission import Admission


def slow_app(release: asyncio.Event) -> FastAPI:
    app = FastAPI()
    app.add_middleware(Admission, max_in_flight=4, retry_after_s=7)

    @app.post("/execute")
    async def execute() -> dict[str, str]:
        await release.wait()
        return {"ok": "yes"}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def test_a_burst_beyond_the_bound_is_refused_at_once() -> None:
    release = asyncio.Event()
    app = slow_app(release)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://arm") as client:
        started = time.monotonic()
        burst = [asyncio.create_task(client.post("/execute")) for _ in range(12)]
        await asyncio.sleep(0.2)
        refused = [t for t in burst if t.done()]
        assert len(refused) == 8 and time.monotonic() - started < 1.0  # at once, not queued
        for task in refused:
            response = task.result()
            assert response.status_code == 503 and response.headers["retry-after"] == "7"
            body = response.json()
            assert body["error"] == "overloaded" and body["request_id"]
        assert (await client.get("/health")).status_code == 200  # probes are never refused
        app.state.max_in_flight = 5  # the Ingress's configured bound, set on the app
        release.set()
        admitted = await asyncio.gather(*(t for t in burst if t not in refused))
        assert [r.status_code for r in admitted] == [200] * 4
        assert (await client.post("/execute")).status_code == 200  # room again
