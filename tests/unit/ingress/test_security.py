"""Security of the Ingress in process (no Ray): with ``ARM_API_KEY`` set every route but
/health needs the bearer token, compared in constant time; ``ARM_DOCS=false`` turns the docs
off; no secret reaches an answer or a log line; the arXiv and LLM URLs come from configuration
only. (That no secret reaches Serve's config checkpoint: ``test_settings``.)"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute

from deployments.ingress.deployment import app
from deployments.ingress.http import auth
from models.research import MemorySearchRequest, ResearchRequest
from models.settings import Settings, read_secret
from tests.unit.ingress.in_process import ingress_client

KEY = "s3cret-arm-key-7f2c"
BEARER = {"Authorization": f"Bearer {KEY}"}
OPEN = {"/health"}  # the probe: orchestrators and Kubernetes call it without a key
BODIES = {
    "/execute": {"query": "graph neural networks"},
    "/memory/search": {"query": "graphs"},
    "/read": {"arxiv_id": "2401.00001"},
}


def routes() -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, found by walking it."""
    found: list[tuple[str, str]] = []

    def walk(node: Any) -> None:
        for route in getattr(node, "routes", ()):
            if isinstance(route, APIRoute):
                found.extend((method, route.path) for method in route.methods)
            walk(getattr(route, "original_router", None))  # FastAPI >= 0.137 nests routers

    walk(app.router)
    return sorted(set(found))


def call(client: Any, method: str, path: str, **kw: Any) -> Any:
    concrete = path.replace("{name}", "swagger-ui.css")  # the docs' assets: one real file
    concrete = concrete.replace("{arxiv_id:path}", "2401.00001")  # a paper /execute stores
    return client.request(method, concrete, json=BODIES.get(path), **kw)


@pytest.fixture
def logged() -> Iterator[list[logging.LogRecord]]:
    """Every record logged while the test runs, Serve's loggers included."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.DEBUG)
    loggers = [logging.getLogger(), logging.getLogger("ray.serve")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield records
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


def test_every_route_but_health_needs_the_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    served = routes()
    assert {path for _, path in served} >= {
        "/execute", "/memory/search", "/health", "/capabilities", "/docs", "/redoc", "/openapi.json"
    }  # fmt: skip
    monkeypatch.setenv("ARM_API_KEY", KEY)
    with ingress_client(monkeypatch, tmp_path) as client:
        client.post("/execute", json=BODIES["/execute"], headers=BEARER)  # papers to read
        for method, path in served:
            if path in OPEN:
                assert call(client, method, path).status_code == 200
                continue
            for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": KEY}):
                refused = call(client, method, path, headers=headers)
                assert refused.status_code == 401, (method, path, headers)
                assert refused.json()["error"] == "unauthorized"
            # Let in: the answer itself (a paper forgotten before it is read is a 404).
            allowed = {204} if method == "DELETE" else {200, 404} if "/papers/" in path else {200}
            status = call(client, method, path, headers=BEARER).status_code
            assert status in allowed, (method, path, status)
        manifest = client.get("/capabilities", headers=BEARER).json()
        assert manifest["limits"]["auth"] == "bearer"


def test_the_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []

    def compare_digest(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(auth.hmac, "compare_digest", compare_digest)
    checker = auth.BearerAuth(read_secret("arm_api_key", {"ARM_API_KEY": KEY}))
    with pytest.raises(auth.Unauthorized):
        checker.check(None)
    checker.check(auth.HTTPAuthorizationCredentials(scheme="Bearer", credentials=KEY))
    assert compared == [(b"", KEY.encode()), (KEY.encode(), KEY.encode())]
    assert KEY not in repr(checker)


@pytest.mark.parametrize("key", [None, KEY])
def test_docs_can_be_turned_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: str | None
) -> None:
    assert Settings.load({}, {"ARM_DOCS": "false"}).for_stages().ingress.docs is False
    if key:
        monkeypatch.setenv("ARM_API_KEY", key)
    headers = BEARER if key else {}
    with ingress_client(monkeypatch, tmp_path, arm_docs=False) as client:
        paths = ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect")
        for path in (*paths, "/docs/assets/swagger-ui.css"):
            off = client.get(path, headers=headers)
            assert off.status_code == 404 and off.json()["error"] == "not_found", path
        endpoints = client.get("/capabilities", headers=headers).json()["endpoints"]
        assert "openapi" not in endpoints and "execute" in endpoints
        assert client.post("/execute", json=BODIES["/execute"], headers=headers).status_code == 200


def test_no_secret_in_answers_or_logs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, logged: list[logging.LogRecord]
) -> None:
    monkeypatch.setenv("ARM_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", "s3cret-openai-9d1e")
    secrets = [KEY, "s3cret-openai-9d1e", "guessed-token-4b8a"]
    answers = []
    with ingress_client(monkeypatch, tmp_path) as client:
        guess = {"Authorization": "Bearer guessed-token-4b8a"}
        answers += [client.post("/execute", json=BODIES["/execute"], headers=guess)]
        # Invalid input with the right key: the 422 names the field, never a header.
        answers += [client.post("/execute", json={"query": "graphs", KEY: 1}, headers=BEARER)]
        answers += [client.post("/execute", content=b"{", headers=BEARER)]
        answers += [client.get("/capabilities", headers=BEARER)]
        answers += [client.get("/openapi.json", headers=BEARER)]
        answers += [client.get("/health", headers=BEARER)]
    assert [a.status_code for a in answers] == [401, 422, 422, 200, 200, 200]
    lines = [record.getMessage() + str(record.args) for record in logged]
    for secret in secrets:
        for answer in answers[:1] + answers[2:]:
            assert secret not in answer.text and secret not in str(answer.headers)
        assert not [line for line in lines if secret in line]
    # The unknown field the caller sent is echoed as their field name, nothing more.
    assert answers[1].json()["detail"][0]["field"] == KEY
    assert "Authorization" not in answers[1].text and "Bearer" not in answers[1].text
    assert "**********" in repr(read_secret("arm_api_key"))  # pydantic's SecretStr hides it


@pytest.mark.parametrize("model", [ResearchRequest, MemorySearchRequest])
def test_urls_come_from_configuration_only(
    model: type[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fields = set(model.model_json_schema()["properties"])
    assert not [f for f in fields if "url" in f or "host" in f or "endpoint" in f], fields
    assert model.model_config.get("extra") == "forbid"
    # No route takes query, path, header or cookie parameters: the body is all a caller sends.
    # The exceptions, each checked by its pattern: the arXiv id in /papers/{arxiv_id}'s path,
    # and /execute's Idempotency-Key header.
    allowed = {
        "/papers/{arxiv_id}": [("path", "arxiv_id")],
        "/execute": [("header", "idempotency-key")],
    }
    for path, methods in app.openapi()["paths"].items():
        for operation in methods.values():
            names = [(p["in"], p["name"].lower()) for p in operation.get("parameters", [])]
            assert names == allowed.get(path, []), path
    path = "/execute" if model is ResearchRequest else "/memory/search"
    with ingress_client(monkeypatch, tmp_path) as client:
        for name in ("arxiv_api_url", "api_url", "openai_base_url", "base_url", "url"):
            body = {**BODIES[path], name: "http://169.254.169.254/latest"}
            refused = client.post(path, json=body)
            assert refused.status_code == 422
            assert [d["field"] for d in refused.json()["detail"]] == [name]
