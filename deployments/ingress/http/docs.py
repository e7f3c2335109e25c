"""The OpenAPI document, its two pages and their assets, served by the Ingress's app rather
than by FastAPI's defaults (whose routes exist at import, before any replica's settings do).

``ARM_DOCS=false`` turns them off (404): the Ingress sets ``REPLICA.docs``. The bearer key guards
them as it guards every route but /health. The pages load nothing from the internet
(``docs_assets``), so ``/docs`` works offline.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from deployments.ingress.http.auth import require_bearer
from deployments.ingress.http.docs_assets import ASSETS_PATH, docs_asset, redoc_page, swagger_page
from deployments.ingress.http.replica import REPLICA

ASSET_CACHE = {"Cache-Control": "public, max-age=86400"}  # the assets change with the package

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_bearer)])


def _root_path(request: Request) -> str:
    """Serve mounts the app under its route prefix (root_path); the pages fetch through it.
    404 when the docs are off."""
    if not REPLICA.docs:
        raise HTTPException(404, "Not Found")
    return str(request.scope.get("root_path", "")).rstrip("/")


@router.get("/openapi.json")
async def get_openapi(request: Request) -> JSONResponse:
    """The OpenAPI document, its server the route prefix Serve mounts the app under."""
    root_path = _root_path(request)
    schema = request.app.openapi()
    if root_path:
        schema = {**schema, "servers": [{"url": root_path}]}
    return JSONResponse(schema)


@router.get("/docs")
async def get_swagger_ui(request: Request) -> Response:
    """Swagger UI over the document, every asset from this server."""
    return swagger_page(_root_path(request), request.app.title)


@router.get("/redoc")
async def get_redoc(request: Request) -> Response:
    """ReDoc over the document, every asset from this server."""
    return redoc_page(_root_path(request), request.app.title)


@router.get(ASSETS_PATH + "/{name}")
async def get_docs_asset(request: Request, name: str) -> Response:
    """A script, style sheet or icon of the two pages; 404 for any other name."""
    _root_path(request)
    found = docs_asset(name)
    if found is None:
        raise HTTPException(404, "Not Found")
    media_type, content = found
    return Response(content, media_type=media_type, headers=ASSET_CACHE)
