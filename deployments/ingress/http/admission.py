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

from starlette.types import ASGIApp, Receive, Scope, Send

from deployments.ingress.http.errors import RETRY_AFTER_S, send_error
from deployments.ingress.http.replica import REPLICA
from models.errors import Overloaded

WORK_ROUTES = ("/execute", "/memory/search", "/mcp")


def work_route(scope: Scope) -> str | None:
    """The arm's route of an HTTP request to a work route, else None. Serve mounts the app
    under its route prefix (``root_path``): the route is what follows it."""
    route = str(scope.get("path", "")).removeprefix(scope.get("root_path", ""))
    return route if scope["type"] == "http" and route in WORK_ROUTES else None


class Admission:
    """At most ``REPLICA.max_in_flight`` work requests at once (the Ingress's setting); the rest
    get 503 + ``Retry-After``."""

    def __init__(self, app: ASGIApp, retry_after_s: int = RETRY_AFTER_S) -> None:
        self.app = app
        self.retry_after_s = retry_after_s
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if work_route(scope) is None:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= REPLICA.max_in_flight:
            await self._refuse(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        overloaded = Overloaded(
            f"the arm is at capacity ({self.in_flight} requests in flight); "
            f"retry after {self.retry_after_s} s",
            retry_after_s=self.retry_after_s,
        )
        await send_error(overloaded, scope, receive, send)
