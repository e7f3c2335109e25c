"""The OpenAPI document and its two pages, served by the Ingress itself rather than by FastAPI
(whose app is built at import, before any replica's settings exist): ``ARM_DOCS=false`` turns
them off (404), and the bearer key guards them as it guards every route but /health."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

DOCS_PATHS = ("/openapi.json", "/docs", "/redoc")


def docs_page(request: Request, *, enabled: bool) -> Response:
    """The document or page ``request`` asks for (one of ``DOCS_PATHS``); 404 when off."""
    if not enabled:
        raise HTTPException(404, "Not Found")
    # Serve mounts the app under its route prefix (root_path); the pages fetch through it.
    root_path = request.scope.get("root_path", "").rstrip("/")
    page = request.url.path.removeprefix(root_path)
    title = request.app.title
    if page == "/docs":
        return get_swagger_ui_html(openapi_url=f"{root_path}/openapi.json", title=title)
    if page == "/redoc":
        return get_redoc_html(openapi_url=f"{root_path}/openapi.json", title=title)
    schema = request.app.openapi()
    if root_path:
        schema = {**schema, "servers": [{"url": root_path}]}
    return JSONResponse(schema)
