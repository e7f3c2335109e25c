"""Serve's proxy's own answers, through a running proxy, in the arm's error shape: a path no
application serves, and the Ingress's queue bound (``max_queued_requests``) overrun. The proxy
of this tier runs the callback ``make run`` and the KubeRay ConfigMap set
(``RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH``, in ``conftest.serve_url``)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from models.research import ErrorBody
from tests.graph.conftest import App, deploy

ONGOING, QUEUED = 2, 1  # the tight Ingress: 2 requests at a time, 1 waiting in the proxy
BURST = 10
ARXIV_DELAY_S = 5.0  # each admitted cold request waits this long on the arXiv stand-in


@pytest.fixture(scope="module")
def tight_app(serve_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    ingress = {"max_ongoing_requests": ONGOING, "max_queued_requests": QUEUED}
    app = deploy("tight", serve_url, tmp_path_factory.mktemp("tight"), options={"Ingress": ingress})
    yield app
    app.arxiv.__exit__()
    from ray import serve

    serve.delete(app.name)  # its six replicas, off the shared 2-core machine


def _error(response: httpx.Response) -> ErrorBody:
    assert response.headers["content-type"] == "application/json", response.text
    body = ErrorBody.model_validate(response.json())
    assert body.request_id == response.headers["x-request-id"]
    return body


def test_a_path_no_application_serves_is_the_arms_404(serve_url: str, main_app: App) -> None:
    response = httpx.get(f"{serve_url}/no-such-app/execute", headers={"X-Request-ID": "r-404"})
    assert response.status_code == 404
    body = _error(response)
    assert body.error == "not_found" and body.request_id == "r-404"
    assert "/no-such-app/execute" in body.message


def test_serves_own_endpoints_stay_as_kuberay_reads_them(serve_url: str, main_app: App) -> None:
    health = httpx.get(f"{serve_url}/-/healthz")
    assert health.status_code == 200 and health.text == "success"
    assert httpx.get(f"{serve_url}/-/routes").json()["/main"] == "main"


def test_a_full_ingress_queue_is_a_fast_503_overloaded(tight_app: App) -> None:
    # One request first, so the proxy's router knows the replica (until it does, every request
    # waits in the proxy's queue of one) and the Embedder is warm.
    assert tight_app.client.post("/execute", json={"query": "warm the tight app"}).is_success
    tight_app.arxiv.set_fault("slow", count=-1, delay_s=ARXIV_DELAY_S)

    def ask(n: int) -> tuple[httpx.Response, float]:
        began = time.monotonic()
        with httpx.Client(base_url=tight_app.url, timeout=120.0) as client:
            response = client.post("/execute", json={"query": f"proxy queue bound {n}"})
        return response, time.monotonic() - began

    try:
        with ThreadPoolExecutor(BURST) as pool:
            answers: list[Any] = list(pool.map(ask, range(BURST)))
    finally:
        tight_app.arxiv.reset()
    statuses = Counter(r.status_code for r, _ in answers)
    print(f"\nburst of {BURST} at {ONGOING} ongoing + {QUEUED} queued: {dict(statuses)}")
    # At least one is served; how many more depends on how fast the router assigns them: a request
    # still being assigned counts in the queue of one, so under load the rest can all be refused.
    assert set(statuses) == {200, 503} and statuses[200] >= 1, [r.text for r, _ in answers]
    for response, seconds in answers:
        if response.status_code == 503:  # refused by Serve's proxy, before the Ingress
            body = _error(response)
            assert body.error == "overloaded" and "max_queued_requests=1" in body.message
            assert response.headers["retry-after"] and seconds < ARXIV_DELAY_S
