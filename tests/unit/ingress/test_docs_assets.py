"""The offline /docs and /redoc pages: their assets ship in a package, are served with the
right media type, nothing outside the package's static folder is served, and the pages name
no external URL (a CDN, Google's fonts) that an offline cluster could not reach."""

from __future__ import annotations

import re

import pytest

from deployments.ingress.http import docs_assets as assets

PAGE_ASSETS = {
    assets.SWAGGER_JS: "text/javascript",
    assets.SWAGGER_CSS: "text/css",
    assets.REDOC_JS: "text/javascript",
    assets.FAVICON: "image/png",
}


@pytest.mark.parametrize(("name", "media"), sorted(PAGE_ASSETS.items()))
def test_every_asset_the_pages_load_is_served(name: str, media: str) -> None:
    found = assets.docs_asset(name)
    assert found is not None, f"{assets.ASSETS_PACKAGE} ships no {name}"
    media_type, content = found
    assert media_type.split(";")[0] == media
    assert len(content) > 1000


def test_swagger_ui_is_a_release_that_reads_openapi_3_1() -> None:
    # FastAPI writes OpenAPI 3.1 documents; Swagger UI 4 cannot render them.
    _, js = assets.docs_asset(assets.SWAGGER_JS) or ("", b"")
    versions = re.findall(rb'PACKAGE_VERSION:"(\d+)\.\d+\.\d+"', js)
    assert versions and int(versions[0]) >= 5


@pytest.mark.parametrize(
    "name",
    [
        "../__init__.py",
        "../core.py",
        "..",
        ".",
        "",
        "/etc/passwd",
        "static/swagger-ui.css",
        "..%2fcore.py",
        "swagger-ui.css/",
        "swagger-ui.css\x00.png",
        "SWAGGER-UI.CSS",
        "__init__.py",
    ],
)
def test_names_outside_the_static_folder_are_refused(name: str) -> None:
    assert assets.docs_asset(name) is None


def test_only_known_media_types_are_listed() -> None:
    names = assets.asset_names()
    assert set(PAGE_ASSETS) <= names
    assert all("/" not in n and "\\" not in n and not n.startswith(".") for n in names)


@pytest.mark.parametrize("root_path", ["", "/arm", "/arm/"])
@pytest.mark.parametrize("page", [assets.swagger_page, assets.redoc_page])
def test_pages_name_no_external_url(page, root_path: str) -> None:
    html = page(root_path, "research-arm").body.decode()
    assert "https://" not in html and "http://" not in html
    assert "cdn." not in html and "fonts.googleapis" not in html
    base = root_path.rstrip("/")
    assert f'"{base}/openapi.json"' in html or f"'{base}/openapi.json'" in html
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith(f"{base}{assets.ASSETS_PATH}/"), url
        assert assets.docs_asset(url.rsplit("/", 1)[1]) is not None, url


def test_a_route_wired_as_documented_answers_with_the_media_type() -> None:
    # The wiring the Ingress takes (docs/api.md, "Interactive documentation").
    from fastapi import FastAPI, HTTPException, Response
    from fastapi.testclient import TestClient

    app = FastAPI(docs_url=None, redoc_url=None)

    @app.get("/docs/assets/{name}", include_in_schema=False)
    def get_docs_asset(name: str) -> Response:
        found = assets.docs_asset(name)
        if found is None:
            raise HTTPException(404, "Not Found")
        media_type, content = found
        return Response(content, media_type=media_type)

    client = TestClient(app)
    answer = client.get("/docs/assets/swagger-ui.css")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/css")
    assert client.get("/docs/assets/favicon.png").headers["content-type"] == "image/png"
    assert client.get("/docs/assets/..%2Fcore.py").status_code == 404
    assert client.get("/docs/assets/../core.py").status_code == 404
