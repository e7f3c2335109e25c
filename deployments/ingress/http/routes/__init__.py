"""The API's routes, one module per resource (``research``, ``read``, ``memory``, ``papers``,
``ops``; the docs' in ``http.docs``). Each hands its work to the replica's request flow
(``replica.current_flow``) and names its OpenAPI operation."""

from __future__ import annotations

from deployments.ingress.http.routes.memory import router as memory_router
from deployments.ingress.http.routes.ops import router as ops_router
from deployments.ingress.http.routes.papers import router as papers_router
from deployments.ingress.http.routes.read import router as read_router
from deployments.ingress.http.routes.research import router as research_router

ROUTERS = (research_router, read_router, memory_router, papers_router, ops_router)
