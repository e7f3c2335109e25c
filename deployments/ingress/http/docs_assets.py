"""The API pages without a CDN: Swagger UI 5 and ReDoc 2 as the ``fastapi-offline`` package
ships them (its ``static`` folder), served by the Ingress under ``/docs/assets/<file>``.

FastAPI's own pages load their scripts and styles from jsDelivr (and ReDoc's fonts from
Google), so on a machine or cluster without internet ``/docs`` stayed blank. Here the pages
name only ``{root_path}/docs/assets/<file>`` and ``{root_path}/openapi.json``.

Only the files that exist in the package's static folder are served, matched by exact name
against a listing made once: a name with a ``/``, ``..`` or anything else outside that listing
is simply not found (``None``), never opened.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import HTMLResponse

ASSETS_PACKAGE = "fastapi_offline"
ASSETS_PATH = "/docs/assets"  # the route: GET /docs/assets/{name}

SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
REDOC_JS = "redoc.standalone.js"
FAVICON = "favicon.png"

MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
}


@cache
def asset_names() -> frozenset[str]:
    """The files the pages may load: those in the package's static folder with a known type."""
    static = resources.files(ASSETS_PACKAGE) / "static"
    return frozenset(
        entry.name
        for entry in static.iterdir()
        if entry.is_file() and _suffix(entry.name) in MEDIA_TYPES
    )


def docs_asset(name: str) -> tuple[str, bytes] | None:
    """``(media_type, content)`` of the static file ``name``, or None when the package has no
    such file (a path, ``..`` and unknown names included): answer 404 then."""
    if name not in asset_names():
        return None
    return MEDIA_TYPES[_suffix(name)], _read(name)


def swagger_page(root_path: str, title: str) -> HTMLResponse:
    """``/docs``: Swagger UI over ``{root_path}/openapi.json``, every asset from this server."""
    base = root_path.rstrip("/")
    return get_swagger_ui_html(
        openapi_url=f"{base}/openapi.json",
        title=title,
        swagger_js_url=f"{base}{ASSETS_PATH}/{SWAGGER_JS}",
        swagger_css_url=f"{base}{ASSETS_PATH}/{SWAGGER_CSS}",
        swagger_favicon_url=f"{base}{ASSETS_PATH}/{FAVICON}",
    )


def redoc_page(root_path: str, title: str) -> HTMLResponse:
    """``/redoc``: ReDoc over ``{root_path}/openapi.json``, without Google's fonts."""
    base = root_path.rstrip("/")
    return get_redoc_html(
        openapi_url=f"{base}/openapi.json",
        title=title,
        redoc_js_url=f"{base}{ASSETS_PATH}/{REDOC_JS}",
        redoc_favicon_url=f"{base}{ASSETS_PATH}/{FAVICON}",
        with_google_fonts=False,
    )


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:] if dot >= 0 else ""


@cache
def _read(name: str) -> bytes:
    # Only reached for names in asset_names(): a plain file name of the static folder.
    return (resources.files(ASSETS_PACKAGE) / "static" / name).read_bytes()
