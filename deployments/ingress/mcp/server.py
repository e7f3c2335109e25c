"""The MCP server of an Ingress replica: built per process when the app's lifespan starts, its
session manager run inside that lifespan, and reached by the app's ``/mcp`` route through
``McpEndpoint``, an ASGI shim that holds nothing.

Why a shim and a module-level holder: Serve serves a pickled copy of the FastAPI app, made when
``@serve.ingress`` decorates the Ingress class, and ships it by value to every replica (see
``http.replica``). An ``MCPServer`` put in the app's routes at import time would be pickled with
it: its session manager, task group and locks copied into each replica, the one the lifespan
runs never the one the route calls. So the route holds a ``McpEndpoint`` (an importable class,
pickled by reference; the instance has no state), whose ``__call__`` looks up ``RUNNING`` in
this module at request time; ``session()`` (called by the app's lifespan, which runs on the
served copy in the replica's process) builds a fresh server, runs its session manager and
publishes it there, and clears it at shutdown.

Stateless streamable HTTP with JSON answers: every request stands alone (no session id, no
stream to resume), so a client may reach any Ingress replica behind Serve's proxy.

In front of the SDK: the arm's bearer token (``app.state.auth``, the HTTP API's own, 401 in the
arm's error shape) and, in the SDK's transport security, the Host allowlist of the replica's
settings (``MCP_ALLOWED_HOSTS``, read at each request, so a replica that starts after its
lifespan, or a test that changes it, is heard).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache

from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.utils import get_authorization_scheme_param
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from deployments.ingress.http.auth import BearerAuth
from deployments.ingress.http.errors import send_error
from deployments.ingress.http.replica import REPLICA
from deployments.ingress.mcp.tools import TOOLS
from models.errors import StageError, Unauthorized
from models.version import arm_version

DEFAULT_ALLOWED_HOSTS = "localhost,127.0.0.1,[::1]"
INSTRUCTIONS = (
    "The research arm finds, ranks, summarises, cites and remembers arXiv papers. "
    "search_papers asks arXiv (and stores what it finds; include_evidence adds passages of each "
    "paper's full text); read_paper pages through one paper's full text and finds the passages "
    "that answer a question; recall_memory searches what the arm has stored; format_citations "
    "renders references for stored papers."
)


def build_server() -> MCPServer:
    """The arm's MCP server: its tools, and a stateless streamable-HTTP session manager."""
    server: MCPServer = MCPServer(
        name="research-arm", version=arm_version(), instructions=INSTRUCTIONS
    )
    for tool in TOOLS:
        server.add_tool(tool, structured_output=True)
    server.streamable_http_app(
        stateless_http=True,
        json_response=True,
        transport_security=transport_security(DEFAULT_ALLOWED_HOSTS),
    )
    return server


@lru_cache(maxsize=8)
def transport_security(allowed_hosts: str) -> TransportSecuritySettings:
    """``MCP_ALLOWED_HOSTS`` (comma-separated) as the SDK's settings: ``host`` allows it on any
    port or none, ``host:port`` that port only, ``*`` turns the check off (Host and Origin)."""
    hosts = [h.strip() for h in allowed_hosts.split(",") if h.strip()]
    if "*" in hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    allowed: list[str] = []
    for host in hosts:
        has_port = host.rsplit("]", 1)[-1].count(":") == 1  # [::1]:8000, example.org:443
        allowed.extend([host] if has_port else [host, f"{host}:*"])
    origins = [f"{scheme}://{host}" for host in allowed for scheme in ("http", "https")]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=allowed, allowed_origins=origins
    )


RUNNING: MCPServer | None = None  # this process's server while the app's lifespan runs


@asynccontextmanager
async def session() -> AsyncIterator[None]:
    """Build this process's MCP server and run its session manager (the app's lifespan enters
    this: a mounted app's own lifespan never runs). A manager runs once: a new lifespan, a new
    server."""
    global RUNNING
    server = build_server()
    async with server.session_manager.run():
        RUNNING = server
        try:
            yield
        finally:
            if RUNNING is server:
                RUNNING = None


class McpEndpoint:
    """The ``/mcp`` route's ASGI app (see the module docstring): no state of its own."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        auth: BearerAuth = scope["app"].state.auth
        try:
            auth.check(_bearer(scope))
        except Unauthorized as refused:
            await send_error(refused, scope, receive, send)
            return
        server = RUNNING
        if server is None:
            starting = StageError("the Ingress replica is starting", "ingress")
            await send_error(starting, scope, receive, send)
            return
        manager = server.session_manager
        hosts = REPLICA.settings.mcp_allowed_hosts if REPLICA.settings else DEFAULT_ALLOWED_HOSTS
        # Read by the manager for each stateless request's transport.
        manager.security_settings = transport_security(hosts)
        await manager.handle_request(scope, receive, send)


def _bearer(scope: Scope) -> HTTPAuthorizationCredentials | None:
    """The request's bearer credentials, as FastAPI's ``HTTPBearer`` reads them."""
    scheme, token = get_authorization_scheme_param(Headers(scope=scope).get("authorization"))
    if scheme.lower() != "bearer" or not token:
        return None
    return HTTPAuthorizationCredentials(scheme=scheme, credentials=token)
