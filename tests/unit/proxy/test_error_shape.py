"""Serve's proxy's own answers in the arm's error shape (``deployments/proxy/error_shape``).

The proxy here is made of the functions Ray 2.60's HTTP proxy itself calls on a failed request
(``get_http_response_status`` + ``send_http_response_on_exception``) and wrapped the way the
proxy wraps itself (``_apply_middlewares``: Serve's request-id middleware, then ours from the
callback), so a change of Ray's texts or statuses shows here. The graph tier checks the same
through a running proxy (``tests/graph/test_proxy_errors.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from ray.exceptions import RayActorError
from ray.serve._private.common import DeploymentID
from ray.serve._private.http_util import (
    _apply_middlewares,
    convert_object_to_asgi_messages,
    get_http_response_status,
    send_http_response_on_exception,
)
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError

from deployments.proxy.error_shape import middlewares
from models.research import ErrorBody

ASGI = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def proxy_failing_with(exc: BaseException) -> ASGI:
    """A proxy whose call to the Ingress raised ``exc``: it answers what Serve's would."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        status = get_http_response_status(exc, 90.0, "the-request")
        for message in send_http_response_on_exception(status, response_started=False):
            await send(message)

    return _apply_middlewares(app, middlewares())


def proxy_answering(obj: Any, status: int) -> ASGI:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        for message in convert_object_to_asgi_messages(obj, status_code=status):
            await send(message)

    return _apply_middlewares(app, middlewares())


def ask(app: ASGI, path: str = "/arm/execute", **headers: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as client:
            return await client.post(path, json={"query": "sparse attention"}, headers=headers)

    return asyncio.run(go())


def error_of(response: httpx.Response) -> ErrorBody:
    assert response.headers["content-type"] == "application/json"
    body = ErrorBody.model_validate(response.json())
    assert body.request_id and body.request_id == response.headers["x-request-id"]
    return body


def test_the_queue_bound_is_a_503_overloaded_with_retry_after() -> None:
    response = ask(proxy_failing_with(BackPressureError(128, 128)))
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    body = error_of(response)
    assert body.error == "overloaded" and "max_queued_requests=128" in body.message


def test_serves_own_retry_after_and_status_are_kept() -> None:
    response = ask(proxy_failing_with(BackPressureError(8, 8, retry_after_s=2.5)))
    assert response.status_code == 503 and response.headers["retry-after"] == "3"
    assert error_of(response).error == "overloaded"
    too_many = ask(proxy_failing_with(BackPressureError(8, 8, status_code=429)))
    assert too_many.status_code == 429 and too_many.headers["retry-after"] == "5"
    assert error_of(too_many).error == "overloaded"


def test_the_proxys_timeout_is_a_408_timeout_with_the_callers_request_id() -> None:
    response = ask(proxy_failing_with(TimeoutError()), **{"X-Request-ID": "orchestrator-7"})
    assert response.status_code == 408 and response.headers["retry-after"] == "5"
    body = error_of(response)
    assert body.error == "timeout" and body.request_id == "orchestrator-7"
    assert "timed out after 90.0s" in body.message


def test_an_unavailable_application_is_a_503_stage_unavailable() -> None:
    exc = DeploymentUnavailableError(DeploymentID(name="Ingress", app_name="arm"))
    response = ask(proxy_failing_with(exc))
    assert response.status_code == 503 and response.headers["retry-after"]
    body = error_of(response)
    assert body.error == "stage_unavailable" and "failed to deploy" in body.message


def test_a_replica_that_died_with_the_request_is_a_503_not_a_bare_500() -> None:
    # Serve's proxy sends nothing for this one (it logs the RayActorError); uvicorn would 500.
    response = ask(proxy_failing_with(RayActorError()))
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert error_of(response).error == "stage_unavailable"


def test_a_caller_who_disconnected_gets_nothing() -> None:
    async def proxy(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while (await receive())["type"] != "http.disconnect":  # as Serve's proxy listens
            pass  # then it records a 499 and sends nothing

    sent: list[dict[str, Any]] = []
    incoming = iter([{"type": "http.request", "body": b"{}"}, {"type": "http.disconnect"}])

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/arm/execute", "headers": []}
    asyncio.run(_apply_middlewares(proxy, middlewares())(scope, receive, send))
    assert sent == []


def test_the_proxys_other_headers_are_kept() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        messages = convert_object_to_asgi_messages(
            "Method Not Allowed", status_code=405, extra_headers=[(b"allow", b"GET")]
        )
        for message in messages:
            await send(message)

    response = ask(_apply_middlewares(app, middlewares()))
    assert response.status_code == 405 and response.headers["allow"] == "GET"
    assert error_of(response).error == "method_not_allowed"


def test_a_path_outside_every_route_is_a_404_not_found() -> None:
    response = ask(proxy_answering("Path '/nope' not found. Ping http://.../-/routes", 404))
    assert response.status_code == 404 and "retry-after" not in response.headers
    body = error_of(response)
    assert body.error == "not_found" and "/nope" in body.message


@pytest.mark.parametrize(
    ("obj", "status", "path"),
    [
        ({"error": "overloaded", "message": "the arm's own", "request_id": "r"}, 503, "/x"),
        ("a plain text success", 200, "/x"),
        ("Serve's health probe text, read as it is by KubeRay", 503, "/-/healthz"),
    ],
)
def test_the_arms_own_answers_and_serves_endpoints_pass_untouched(
    obj: Any, status: int, path: str
) -> None:
    response = ask(proxy_answering(obj, status), path=path)
    assert response.status_code == status and "retry-after" not in response.headers
    assert (response.json() if isinstance(obj, dict) else response.text) == obj
