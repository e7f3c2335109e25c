"""The answers Serve's HTTP proxy gives itself, in the arm's error shape.

Serve's proxy answers some requests without the Ingress: 503 when the Ingress's
``max_queued_requests`` is full (or the application is unavailable), 408 past the
``request_timeout_s`` of ``http_options``, 404 for a path outside every route, and, when an
Ingress replica dies while it holds a request (or the call fails otherwise), nothing at all
(uvicorn's plain 500). Those bodies are plain text; an orchestrator that parses ``ErrorBody``
would choke on them.

``ProxyErrorShape`` runs inside the proxy (Serve's documented hook: the environment variable
``RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH=deployments.proxy.error_shape.middlewares`` on
every Ray node, set by ``make run``, the graph tests and the KubeRay manifests) and rewrites
each such answer as an ``ErrorBody`` with the same status, the proxy's own message, the
request id Serve gave the request, and ``Retry-After`` where trying again is the remedy::

    proxy's answer                          -> status, error
    503/429 "... backpressure ..." (queue)  -> the same, overloaded     + Retry-After
    503 other (application unavailable)     -> 503 stage_unavailable   + Retry-After
    408 "... timed out after N s"           -> 408 timeout             + Retry-After
    404 "Path '/x' not found"               -> 404 not_found
    no answer (the Ingress replica died or  -> 503 stage_unavailable   + Retry-After
      failed; the cause is in the proxy's log; nothing when the caller disconnected)

The arm's own answers are JSON and pass untouched, as does everything under ``/-/`` (Serve's
``/-/healthz`` and ``/-/routes``, which KubeRay's probes read as they are).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deployments.ingress.http.errors import RETRY_AFTER_S, http_kind
from models.research import ErrorBody, ErrorKind

MESSAGE_CHARS = 300  # the proxy's message is kept to this many characters
SERVE_PATHS = "/-/"  # Serve's own endpoints (health, routes): never rewritten
# Headers a rewritten answer sets itself; the proxy's others pass through.
REPLACED_HEADERS = {b"content-type", b"content-length", b"x-request-id", b"retry-after"}
RETRY_STATUSES = {408, 429, 503}  # answers that tell the caller to come back: Retry-After


def middlewares() -> list[Middleware]:
    """Serve's proxy callback: the middlewares its HTTP proxy wraps itself in."""
    return [Middleware(ProxyErrorShape)]


def error_kind(status: int, message: str) -> ErrorKind:
    """The ``ErrorBody.error`` of a proxy answer with this status and text."""
    if status in (429, 503) and "backpressure" in message.lower():  # Serve's is 503 or 429
        return "overloaded"
    return "stage_unavailable" if status == 503 else http_kind(status)


def _header(headers: list[Any], name: bytes) -> str | None:
    for key, value in headers:
        if bytes(key).lower() == name:
            return bytes(value).decode("latin-1")
    return None


class ProxyErrorShape:
    """Pure ASGI middleware around Serve's proxy; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(SERVE_PATHS):
            await self.app(scope, receive, send)
            return
        held: Message | None = None  # a plain-text error's start, kept until its body is read
        body = bytearray()
        started = gone = False

        async def watch() -> Message:  # a caller who disconnected gets no answer of ours
            nonlocal gone
            message = await receive()
            gone = gone or message["type"] == "http.disconnect"
            return message

        async def reshape(message: Message) -> None:
            nonlocal held, started
            if message["type"] == "http.response.start":
                started = True
                headers = message.get("headers", [])
                content_type = _header(headers, b"content-type") or ""
                if (
                    message["status"] >= 400
                    and "json" not in content_type
                    and not message.get("trailers", False)
                ):
                    held = message
                    return
            elif message["type"] == "http.response.body" and held is not None:
                room = max(0, MESSAGE_CHARS * 4 - len(body))  # the message needs no more
                body.extend(message.get("body", b"")[:room])
                if not message.get("more_body", False):
                    start, held = held, None
                    await self._answer(send, start, bytes(body))
                return
            await send(message)

        await self.app(scope, watch, reshape)
        if held is not None:  # the proxy stopped before the end of its error's body
            await self._answer(send, held, bytes(body))
        elif not started and not gone:
            # The proxy sends nothing for an error other than 408/429/503: the replica holding
            # the request died (a RayActorError, the usual case) or the call failed otherwise;
            # Serve's proxy log has the cause. uvicorn would send a bare 500.
            rid = _header(scope.get("headers", []), b"x-request-id")
            await _send_error(
                send,
                503,
                "Serve's proxy got no answer from the Ingress (its replica died or failed); "
                f"retry shortly, or quote request id {rid}",
                rid,
                None,
            )

    @staticmethod
    async def _answer(send: Send, start: Message, body: bytes) -> None:
        """The proxy's plain-text answer (its start message and body) as an ``ErrorBody``."""
        headers = start.get("headers", [])
        await _send_error(
            send,
            int(start["status"]),
            body.decode("utf-8", "replace").strip(),
            _header(headers, b"x-request-id"),
            _header(headers, b"retry-after"),
            [(k, v) for k, v in headers if bytes(k).lower() not in REPLACED_HEADERS],
        )


async def _send_error(
    send: Send,
    status: int,
    text: str,
    request_id: str | None,
    retry_after: str | None,
    other_headers: list[Any] | None = None,
) -> None:
    message = text[:MESSAGE_CHARS] or f"HTTP {status}"
    error = ErrorBody(error=error_kind(status, message), message=message, request_id=request_id)
    payload = json.dumps(error.model_dump(exclude={"detail"})).encode()  # no 422s here
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if request_id:
        headers.append((b"x-request-id", request_id.encode("latin-1")))
    if status in RETRY_STATUSES:
        headers.append((b"retry-after", (retry_after or str(RETRY_AFTER_S)).encode()))
    headers.extend(other_headers or [])  # the proxy's others (Allow, ...), kept as they were
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
