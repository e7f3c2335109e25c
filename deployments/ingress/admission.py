"""Admission: a bound on the work an Ingress replica takes on, so excess load gets a fast 503
in the arm's error shape instead of waiting in a queue that only grows.

Pure ASGI middleware over the work routes (``/execute``, ``/memory/search``): at most
``max_in_flight`` of them run at once in a replica; the next one is answered at once with 503
``overloaded`` and a ``Retry-After``. It sits below Serve's own bounds (the Ingress's
``max_ongoing_requests``, its ``max_queued_requests`` and the proxy's ``request_timeout_s`` in
serve_config.yaml are larger), so under a burst the arm answers before Serve's proxy has to,
and its answers keep the arm's shape. Probes (``/health``) are never refused.
"""

from __future__ import annotations

import json
import uuid

from starlette.types import ASGIApp, Receive, Scope, Send

WORK_ROUTES = ("/execute", "/memory/search")


class Admission:
    """At most ``max_in_flight`` work requests at once; the rest get 503 + ``Retry-After``."""

    def __init__(self, app: ASGIApp, max_in_flight: int = 64, retry_after_s: int = 5) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after_s = retry_after_s
        self.in_flight = 0
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = scope.get("path", "").removeprefix(scope.get("root_path", ""))
        if scope["type"] != "http" or route not in WORK_ROUTES:
            await self.app(scope, receive, send)
            return
        # The Ingress sets its configured bound on the app's state (settings reach the replica
        # after the app object exists); the constructor's value until then.
        limit = getattr(scope["app"].state, "max_in_flight", self.max_in_flight)
        if self.in_flight >= limit:
            self.refused += 1
            await self._refuse(scope, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _refuse(self, scope: Scope, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")[:128] or str(uuid.uuid4())
        body = json.dumps(
            {
                "error": "overloaded",
                "message": f"the arm is at capacity ({self.in_flight} requests in flight); "
                f"retry after {self.retry_after_s} s",
                "request_id": rid,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(self.retry_after_s).encode()),
                    (b"x-request-id", rid.encode("latin-1", "replace")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
