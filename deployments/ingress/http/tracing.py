"""W3C Trace Context: a caller's ``traceparent`` header accepted, and its trace id carried into
the arm's log lines of that request (``deployments.common.logs.TRACE_ID``) beside Serve's
request id, so one search in the orchestrator's traces finds the arm's lines.

``traceparent: 00-<trace id, 32 hex>-<parent id, 16 hex>-<flags, 2 hex>``: a header that does not
parse (another version, all-zero ids) is ignored, as the specification asks; the request is
served all the same. The arm starts no spans of its own.
"""

from __future__ import annotations

import logging
import re

from starlette.types import ASGIApp, Receive, Scope, Send

from deployments.common.logs import TRACE_ID, arm_logger, log_event

logger = arm_logger(__name__)

_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")


def trace_id_of(header: str | None) -> str | None:
    """The trace id of a ``traceparent`` header value, or None when it does not parse."""
    match = _TRACEPARENT.fullmatch((header or "").strip().lower())
    if match is None or set(match[1]) == {"0"} or set(match[2]) == {"0"}:
        return None
    return match[1]


class TraceContext:
    """Pure ASGI middleware: the request's trace id into ``TRACE_ID`` while it is served."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        header = None
        if scope["type"] == "http":
            header = dict(scope["headers"]).get(b"traceparent", b"").decode("latin-1")
        trace_id = trace_id_of(header)
        if trace_id is None:
            await self.app(scope, receive, send)
            return
        token = TRACE_ID.set(trace_id)
        try:
            # One line per traced request ties Serve's request id to the caller's trace.
            log_event(logger, logging.INFO, "request.traced", path=scope.get("path"))
            await self.app(scope, receive, send)
        finally:
            TRACE_ID.reset(token)
