"""The FastAPI app the Ingress serves: its metadata, what its replica holds for every route
(the bearer check, the metrics), the caps on what a request may send, and error handling. The
routes: ``routes`` (one module per resource), ``docs`` (the OpenAPI document, its pages
and their assets) and ``/mcp`` (the MCP server, ``deployments.ingress.mcp``).

What the replica puts on ``app.state`` for the middleware and routes: ``auth`` and ``metrics``
(``lifespan``, when the replica starts). What its settings tell the middleware and the docs
routes: ``replica.REPLICA`` (set by the Ingress's constructor)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.exceptions import HTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deployments.common.metrics import IngressMetrics
from deployments.ingress.http.admission import Admission, work_route
from deployments.ingress.http.auth import BearerAuth
from deployments.ingress.http.docs import router as docs_router
from deployments.ingress.http.errors import install_error_handlers, outcome_of, send_error
from deployments.ingress.http.limits import BODY_TIMEOUT_S, MAX_BODY_BYTES, MAX_URL_BYTES
from deployments.ingress.http.routes import ROUTERS
from deployments.ingress.http.tracing import TraceContext
from deployments.ingress.mcp import McpEndpoint
from deployments.ingress.mcp import session as mcp_session
from models.settings import read_secret
from models.version import arm_version


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Runs in the Ingress replica when it starts: the key never travels through Serve.
    app.state.auth = BearerAuth(read_secret("arm_api_key"))
    app.state.metrics = IngressMetrics()
    async with mcp_session():  # /mcp's session manager (a mounted app's lifespan never runs)
        yield


TOO_LARGE = f"request body over {MAX_BODY_BYTES} bytes"


class InputLimits:
    """Pure ASGI middleware: a URL over ``MAX_URL_BYTES`` is a 414, a body over
    ``MAX_BODY_BYTES`` a 413 (declared or streamed; read no further than the cap), a body not
    all received within ``body_timeout_s`` a 408, all in the arm's error shape and before any
    route sees them."""

    def __init__(self, app: ASGIApp, body_timeout_s: float = BODY_TIMEOUT_S) -> None:
        self.app = app
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        url = len(scope.get("raw_path") or scope["path"].encode()) + len(scope["query_string"])
        if url > MAX_URL_BYTES:
            await send_error(
                HTTPException(414, f"URL over {MAX_URL_BYTES} bytes"), scope, receive, send
            )
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            await send_error(HTTPException(413, TOO_LARGE), scope, receive, send)
            return
        # Read the body here, up to the cap (a chunked one declares no length), then replay it.
        # A client that sends it slowly would hold an admission slot (Admission sits outside):
        # it gets body_timeout_s for all of it.
        chunks: list[bytes] = []
        size, more = 0, True
        try:
            async with asyncio.timeout(self.body_timeout_s):
                while more and size <= MAX_BODY_BYTES:
                    message = await receive()
                    if message["type"] != "http.request":  # the caller went away: nobody to answer
                        return
                    chunks.append(message.get("body", b""))
                    size += len(chunks[-1])
                    more = message.get("more_body", False)
        except TimeoutError:
            slow = f"request body not received within {self.body_timeout_s:g} s"
            await send_error(HTTPException(408, slow), scope, receive, send)
            return
        if size > MAX_BODY_BYTES:  # read no further than the cap
            await send_error(HTTPException(413, TOO_LARGE), scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # later calls wait for the disconnect, as usual
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


class CountAnswers:
    """Pure ASGI middleware: every answer of the work routes by status, the mapped errors
    included (it sits outside the error handling)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = work_route(scope)
        if route is None:
            await self.app(scope, receive, send)
            return

        async def count(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                scope["app"].state.metrics.answered(route, status, outcome_of(scope, status))
            await send(message)

        await self.app(scope, receive, count)


def make_app(routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The app with its middleware and error handling, and ``routers`` (the arm's: ``app``)."""
    app = FastAPI(
        title="Research arm",
        version=arm_version(),
        description="Find, rank, summarise and remember arXiv papers for an agent orchestrator.",
        lifespan=lifespan,
        # The Ingress serves these itself, each replica by its settings and key (``docs``).
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.docs_url = "/docs"  # after setup(), which added no route: what Serve's status names
    for router in routers:
        app.include_router(router)
    # /mcp exactly (a Mount would answer the bare path with a 307); the endpoint is a stateless
    # shim, so the pickled copy Serve serves carries no MCP server (``mcp.server``).
    app.router.routes.append(Route("/mcp", McpEndpoint(), include_in_schema=False))
    app.add_middleware(InputLimits)  # innermost of the three: its refusals are counted too
    install_error_handlers(app)
    app.add_middleware(Admission)  # a fast 503 beyond the bound, before any work starts
    app.add_middleware(CountAnswers)  # sees the mapped errors
    app.add_middleware(TraceContext)  # outermost: every line of the request has its trace id
    return app


app = make_app((*ROUTERS, docs_router))
