"""The FastAPI app the Ingress serves: its metadata, what its replica holds for every route
(the bearer check, the metrics) and error handling. The routes are the Ingress deployment's
methods (``deployment``), as Serve's class-based ingress wants."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deployments.common.metrics import IngressMetrics
from deployments.ingress.auth import BearerAuth
from deployments.ingress.http_errors import install_error_handlers
from models.settings import read_secret
from models.version import arm_version


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Runs in the Ingress replica when it starts: the key never travels through Serve.
    app.state.auth = BearerAuth(read_secret("arm_api_key"))
    app.state.metrics = IngressMetrics()
    yield


COUNTED_ROUTES = ("/execute", "/memory/search")


class CountAnswers:
    """Pure ASGI middleware: every answer of the work routes by status, the mapped errors
    included (it sits outside the error handling)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Serve mounts the app under its route prefix (root_path); count by the arm's route.
        route = scope.get("path", "").removeprefix(scope.get("root_path", ""))
        if scope["type"] != "http" or route not in COUNTED_ROUTES:
            await self.app(scope, receive, send)
            return

        async def count(message: Message) -> None:
            if message["type"] == "http.response.start":
                scope["app"].state.metrics.answered(route, message["status"])
            await send(message)

        await self.app(scope, receive, count)


def make_app() -> FastAPI:
    app = FastAPI(
        title="Research arm",
        version=arm_version(),
        description="Find, rank, summarise and remember arXiv papers for an agent orchestrator.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(CountAnswers)  # added last: outermost, sees the mapped errors
    return app


app = make_app()
