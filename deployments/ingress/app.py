"""The FastAPI app the Ingress serves: its metadata, what its replica holds for every route
(the bearer check, the metrics) and error handling. The routes are the Ingress deployment's
methods (``deployment``), as Serve's class-based ingress wants."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

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


async def count_answers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Every answer of the work routes by status, the mapped errors included."""
    response = await call_next(request)
    if request.url.path in COUNTED_ROUTES:
        request.app.state.metrics.answered(request.url.path, response.status_code)
    return response


def make_app() -> FastAPI:
    app = FastAPI(
        title="Research arm",
        version=arm_version(),
        description="Find, rank, summarise and remember arXiv papers for an agent orchestrator.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.middleware("http")(count_answers)  # added last: outermost, sees the mapped errors
    return app


app = make_app()
