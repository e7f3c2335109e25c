"""Errors become HTTP here and only here, in one function (``error_response``)::

    RequestValidationError -> 422 naming each field     ArxivQueryError  -> 400, arXiv's message
    a body that is no JSON -> 422, field "body"         ArxivUnavailable -> 503 with Retry-After
    Unauthorized           -> 401 + WWW-Authenticate    HTTPException    -> its status (404, 405,
    anything else          -> 500, the request id only                     408, 413, 414), headers
                              (the cause goes to the log)

Every answer has the ``ErrorBody`` shape; none carries a stack trace.
"""

from __future__ import annotations

import logging
import math
import uuid

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deployments.common.logs import arm_logger, log_event
from models.errors import (
    ArmError,
    ArxivQueryError,
    ArxivUnavailable,
    DeadlineExpired,
    Forbidden,
    Overloaded,
    StageError,
    Unauthorized,
    unwrap,
)
from models.research import ErrorBody, ErrorKind, FieldError

logger = arm_logger(__name__)

# Starlette's and FastAPI's own refusals (and Serve's proxy's), by status; other 4xx are
# "bad_request".
HTTP_KINDS: dict[int, ErrorKind] = {
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    413: "payload_too_large",
    414: "uri_too_long",
}
# Each answer's ``outcome`` label in ``arm_requests_total``: the error kinds folded into the
# few an operator alerts on (docs/operations.md). A 2xx is "ok"; a deadline passed "timeout"
# (answered as "overloaded": ``DeadlineExpired``).
OUTCOMES: dict[ErrorKind, str] = {
    "bad_request": "bad_request",
    "validation_error": "bad_request",
    "method_not_allowed": "bad_request",
    "payload_too_large": "bad_request",
    "uri_too_long": "bad_request",
    "unauthorized": "unauthorized",
    "forbidden": "unauthorized",
    "not_found": "not_found",
    "overloaded": "overloaded",
    "timeout": "bad_request",  # a 408: the caller's body came too slowly
    "arxiv_unavailable": "arxiv_unavailable",
    "stage_unavailable": "stage_unavailable",
    "internal_error": "internal_error",
}
# When to come back after a refusal that clears by itself (a replica restarts in ~10 s).
RETRY_AFTER_S = 5
FIELD_CHARS = 64  # a field name is echoed at most this long (unknown ones are the caller's)


def outcome_of(scope: Scope, status: int) -> str:
    """The ``outcome`` of an answered request: what ``error_response`` recorded, else by its
    status (a 2xx or 3xx is "ok")."""
    recorded = scope.get("state", {}).get("outcome")
    if recorded is not None:
        return str(recorded)
    return "ok" if status < 400 else OUTCOMES[http_kind(status)]


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
    kind: ErrorKind,
    message: str,
    request: Request,
    headers: dict[str, str] | None = None,
    detail: list[FieldError] | None = None,
) -> JSONResponse:
    rid = request_id(request)
    if getattr(request.state, "outcome", None) is None:  # a deadline's "timeout" stays
        request.state.outcome = OUTCOMES[kind]
    body = ErrorBody(error=kind, message=message, request_id=rid, detail=detail)
    # ``detail`` only where there is one (a 422): no other answer gains a null field.
    answer = body.model_dump(exclude={"detail"} if detail is None else None)
    return JSONResponse(answer, status_code=status, headers=headers)


def _printable(name: str) -> str:
    """A caller's field name made safe to echo: escapes for what is not printable, cut to
    ``FIELD_CHARS``."""
    safe = name if name.isprintable() else ascii(name)[1:-1]
    return safe if len(safe) <= FIELD_CHARS else safe[: FIELD_CHARS - 3] + "..."


def _field_errors(exc: RequestValidationError) -> list[FieldError]:
    details = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":  # loc is ("body", offset): name the body
            reason = (err.get("ctx") or {}).get("error", "")
            message = f"not valid JSON at character {err['loc'][-1]}: {reason}"
            details.append(FieldError(field="body", message=message, type="json_invalid"))
            continue
        loc = [_printable(str(part)) for part in err.get("loc", ()) if part != "body"]
        field = ".".join(loc) or "body"
        details.append(
            FieldError(field=field, message=err.get("msg", ""), type=err.get("type", ""))
        )
    return details


def _unparseable(exc: HTTPException) -> str | None:
    """Why FastAPI could not parse a JSON body (its 400 names no cause), or None for any
    other HTTP error: what ``json.loads`` raised besides a syntax error."""
    cause = exc.__cause__
    if exc.status_code != 400 or cause is None:
        return None
    if isinstance(cause, UnicodeDecodeError):
        return "not valid UTF-8"
    if isinstance(cause, RecursionError):
        return "nested too deeply"
    return "not valid JSON (a number too long?)" if isinstance(cause, ValueError) else None


def _validation_422(request: Request, details: list[FieldError]) -> JSONResponse:
    summary = "; ".join(f"{d.field}: {d.message}" for d in details)
    return _body(422, "validation_error", f"invalid request: {summary}", request, detail=details)


# Ray's errors for a replica that died or cannot be reached, by name: this module imports
# without Ray (the layout test checks it).
_GONE = {"RayActorError", "ActorDiedError", "ActorUnavailableError", "ActorUnschedulableError"}


def _replica_gone(cause: BaseException) -> bool:
    return any(kind.__name__ in _GONE for kind in type(cause).__mro__)


def http_kind(status: int) -> ErrorKind:
    """The error of a plain HTTP refusal by its status: ``HTTP_KINDS``, else "bad_request" for
    a 4xx and "internal_error" for anything else."""
    if 400 <= status < 500:
        return HTTP_KINDS.get(status, "bad_request")
    return "internal_error"


def error_response(request: Request, exc: BaseException) -> JSONResponse:
    """The one mapping from an exception (Ray's wrappers taken off) to the arm's answer."""
    cause = unwrap(exc)
    if isinstance(cause, RequestValidationError):
        return _validation_422(request, _field_errors(cause))
    if isinstance(cause, HTTPException):
        reason = _unparseable(cause)
        if reason is not None:
            unparsed = FieldError(field="body", message=reason, type="json_invalid")
            return _validation_422(request, [unparsed])
        headers = dict(cause.headers) if cause.headers else None
        kind = http_kind(cause.status_code)
        return _body(cause.status_code, kind, str(cause.detail), request, headers)
    if isinstance(cause, Unauthorized):
        return _body(401, "unauthorized", cause.message, request, {"WWW-Authenticate": "Bearer"})
    if isinstance(cause, Forbidden):
        return _body(403, "forbidden", cause.message, request)
    if isinstance(cause, ArxivQueryError):
        return _body(400, "bad_request", cause.message, request)
    if isinstance(cause, (ArxivUnavailable, Overloaded)):
        if isinstance(cause, DeadlineExpired):
            request.state.outcome = "timeout"
        kind = "overloaded" if isinstance(cause, Overloaded) else "arxiv_unavailable"
        retry = str(max(1, math.ceil(cause.retry_after_s)))
        return _body(503, kind, cause.message, request, {"Retry-After": retry})
    if isinstance(cause, StageError) or _replica_gone(cause):
        # A stage the answer needs failed or is restarting (Serve restarts a dead replica in
        # seconds): the caller may try again shortly; nothing about its request was wrong.
        rid = request_id(request)
        stage = cause.stage if isinstance(cause, StageError) else "replica"
        log_event(logger, logging.WARNING, "request.stage_failed", stage=stage, error=repr(cause))
        if isinstance(cause, StageError):  # may not clear by itself: the id finds the log line
            message = f"the {cause.stage} stage failed; retry later, or quote request id {rid}"
        else:
            message = "a stage's replica died and Serve is restarting it; retry shortly"
        return _body(
            503, "stage_unavailable", message, request, {"Retry-After": str(RETRY_AFTER_S)}
        )
    log_event(
        logger,
        logging.ERROR,
        "request.failed",
        error=cause.message if isinstance(cause, ArmError) else repr(cause),
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
            await send_error(exc, scope, receive, send)


async def send_error(exc: BaseException, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer a request with ``error_response`` from plain ASGI (a middleware's refusal)."""
    await error_response(Request(scope), exc)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Route every error of ``app`` through ``error_response``."""
    app.add_exception_handler(RequestValidationError, _handle)
    app.add_exception_handler(HTTPException, _handle)
    app.add_exception_handler(ArmError, _handle)
    app.add_middleware(CatchAll)
