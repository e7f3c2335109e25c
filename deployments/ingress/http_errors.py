"""Errors become HTTP here and only here, in one function (``error_response``)::

    RequestValidationError -> 422 naming each field     ArxivQueryError  -> 400, arXiv's message
    Unauthorized           -> 401 + WWW-Authenticate    ArxivUnavailable -> 503 with Retry-After
    anything else          -> 500, the request id only (the cause goes to the log)

Every answer has the ``ErrorBody`` shape; none carries a stack trace.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deployments.common.logs import arm_logger
from models.errors import ArmError, ArxivQueryError, ArxivUnavailable, Unauthorized, unwrap
from models.research import ErrorBody

logger = arm_logger(__name__)


def request_id(request: Request) -> str:
    """The request's id: Serve's proxy puts one in ``X-Request-ID`` (the caller's, when it
    sent a sane one) and echoes it in the response; a fresh uuid where no proxy ran."""
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        given = request.headers.get("X-Request-ID", "")
        rid = given if 0 < len(given) <= 128 and given.isprintable() else str(uuid.uuid4())
        request.state.request_id = rid
    return str(rid)


def _body(
    status: int,
    kind: str,
    message: str,
    request: Request,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = ErrorBody(error=kind, message=message, request_id=request_id(request)).model_dump()
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    details = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part != "body"]
        details.append(
            {
                "field": ".".join(loc) or "body",
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
        )
    return details


def error_response(request: Request, exc: BaseException) -> JSONResponse:
    """The one mapping from an exception (Ray's wrappers taken off) to the arm's answer."""
    cause = unwrap(exc)
    if isinstance(cause, RequestValidationError):
        details = _field_errors(cause)
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        return _body(
            422, "validation_error", f"invalid request: {summary}", request, detail=details
        )
    if isinstance(cause, Unauthorized):
        return _body(401, "unauthorized", cause.message, request, {"WWW-Authenticate": "Bearer"})
    if isinstance(cause, ArxivQueryError):
        return _body(400, "bad_request", cause.message, request)
    if isinstance(cause, ArxivUnavailable):
        retry = str(max(1, math.ceil(cause.retry_after_s)))
        return _body(503, "arxiv_unavailable", cause.message, request, {"Retry-After": retry})
    logger.error(
        "request %s failed: %s",
        request_id(request),
        cause.message if isinstance(cause, ArmError) else repr(cause),
        exc_info=not isinstance(cause, ArmError),
    )
    rid = request_id(request)
    return _body(500, "internal_error", f"internal error; quote request id {rid}", request)


async def _handle(request: Request, exc: Exception) -> Response:
    return error_response(request, exc)


class CatchAll:
    """Pure ASGI middleware: what no handler claims becomes ``error_response``'s 500.

    Starlette answers an unclaimed exception itself and then re-raises it; catching it here
    keeps the arm's shape and the traceback in the log, not the answer. (Plain ASGI, not
    ``BaseHTTPMiddleware``, which costs every request a task group and a stream.)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:  # too late for another answer: the server closes the connection
                raise
            await error_response(Request(scope), exc)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Route every error of ``app`` through ``error_response``."""
    app.add_exception_handler(RequestValidationError, _handle)
    app.add_exception_handler(ArmError, _handle)
    app.add_middleware(CatchAll)
