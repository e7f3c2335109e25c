"""Hostile input: every operation of the OpenAPI document fuzzed (schemathesis, positive and
negative data), then the cases a generator rarely reaches written out. The real Ingress in
process over stand-in stages (no Ray): every answer is < 500, in the arm's error shape when
it is an error, and carries no stack trace.

Deterministic (``derandomize``) and bounded: ``EXAMPLES`` cases per operation and mode.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
)

from deployments.ingress.deployment import app
from deployments.ingress.http.app import InputLimits
from deployments.ingress.http.errors import install_error_handlers
from deployments.ingress.http.limits import MAX_BODY_BYTES, MAX_URL_BYTES
from models.research import ErrorBody
from tests.unit.ingress.in_process import ingress_client

EXAMPLES = 100
SCHEMA = schemathesis.openapi.from_dict(app.openapi())
OPERATIONS = [result.ok().label for result in SCHEMA.get_all_operations()]
# Negative data needs something to break: a body, a parameter or a security header.
NEGATABLE = [
    label
    for label in OPERATIONS
    if {"parameters", "requestBody", "security"}
    & app.openapi()["paths"][label.split(" ")[1]][label.split(" ")[0].lower()].keys()
]
FUZZED = [(label, GenerationMode.POSITIVE) for label in OPERATIONS] + [
    (label, GenerationMode.NEGATIVE) for label in NEGATABLE
]
KINDS = set(get_args(ErrorBody.model_fields["error"].annotation))


def assert_safe(response: Any) -> None:
    """No 5xx, no stack trace; an error is the arm's shape with a request id."""
    assert response.status_code < 500, response.text
    for leak in ("Traceback", 'File "', "site-packages"):
        assert leak not in response.text
    if response.status_code >= 400:
        body = response.json()
        assert body["error"] in KINDS and body["message"] and body["request_id"], body
        assert response.headers["content-type"] == "application/json"


def _latin1(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def send(client: TestClient, kwargs: dict[str, Any]) -> Any:
    """A case serialised for ``requests`` sent through the app's ``httpx`` test client."""
    data = kwargs.get("data")
    if "json" in kwargs:  # serialised here: a JSON null is a body too, not "no body"
        data = json.dumps(kwargs["json"])
    # Header values as bytes on the wire: a generated value outside ASCII (latin-1, else
    # UTF-8) reaches the server as a client would send it, instead of failing in httpx.
    headers = {
        name: value.encode("latin-1" if value.isascii() or _latin1(value) else "utf-8")
        for name, value in (kwargs.get("headers") or {}).items()
    }
    return client.request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params") or None,
        headers=headers or None,
        content=data.encode() if isinstance(data, str) else data,
    )


@pytest.mark.parametrize(("label", "mode"), FUZZED, ids=[f"{o}-{m.value}" for o, m in FUZZED])
def test_every_operation_survives_generated_input(
    label: str, mode: GenerationMode, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    method, path = label.split(" ", 1)
    operation = SCHEMA[path][method]
    # With a key set, the generated Authorization headers (none, malformed, wrong) are fuzzed
    # too; a case is let in only with the key, sent where the generator sent none.
    monkeypatch.setenv("ARM_API_KEY", "fuzz-key")
    with ingress_client(monkeypatch, tmp_path) as client:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            kwargs = case.as_transport_kwargs(base_url="http://testserver")
            response = send(client, kwargs)
            assert_safe(response)
            checks = [not_a_server_error, response_schema_conformance, negative_data_rejection]
            case.validate_response(response, checks=checks)
            if mode is GenerationMode.POSITIVE and response.status_code == 401:
                kwargs["headers"]["Authorization"] = "Bearer fuzz-key"
                authorised = send(client, kwargs)
                assert_safe(authorised)
                case.validate_response(authorised, checks=checks)

        run()


def _post(client: TestClient, path: str, body: bytes, **headers: str) -> Any:
    headers.setdefault("content-type", "application/json")
    return client.post(path, content=body, headers=headers)


def _fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_error"
    return [d["field"] for d in response.json()["detail"]]


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    with ingress_client(monkeypatch, tmp_path) as client:
        yield client


@pytest.mark.parametrize("path", ["/execute", "/memory/search"])
def test_hostile_bodies_are_refused_by_name(client: TestClient, path: str) -> None:
    ok = {"query": "graph neural networks"}
    cases: list[tuple[bytes, list[str]]] = [
        (json.dumps({**ok, "query": "a\x00b c"}).encode(), ["query"]),  # control character
        (json.dumps({**ok, "query": "ab\ud800c"}).encode(), ["query"]),  # no UTF-8 has it
        (b'{"query": "caf\xe9 au lait"}', ["body"]),  # invalid UTF-8
        (b"[" * 5000 + b"]" * 5000, ["body"]),  # deep JSON: past the parser's recursion
        (b'{"query": ' + b"[" * 500 + b"]" * 500 + b"}", ["query"]),  # deep, parsed
        (b'{"query": "graphs", "max_papers": 1' + b"0" * 5000 + b"}", ["body"]),  # huge int
        (b'{"query": "graphs",', ["body"]),  # truncated
        (b'"graphs"', ["body"]),  # not an object
        (json.dumps({**ok, "arxiv_api_url": "http://evil"}).encode(), ["arxiv_api_url"]),
        (json.dumps({**ok, "start_date": "0001-01-01"}).encode(), ["start_date"]),
        (json.dumps({**ok, "end_date": "99999-01-01"}).encode(), ["end_date"]),
    ]
    for body, fields in cases:
        response = _post(client, path, body)
        assert_safe(response)
        assert _fields(response) == fields, (body[:60], response.text)


def test_every_number_is_capped(client: TestClient) -> None:
    for field, value in [("max_papers", 21), ("max_papers", 0), ("max_papers", 1e308)]:
        response = client.post("/execute", json={"query": "graphs", field: value})
        assert_safe(response)
        assert _fields(response) == [field]
    for value in [101, 0, -1, 2.5]:
        response = client.post("/memory/search", json={"query": "graphs", "limit": value})
        assert _fields(response) == ["limit"]
    nan = _post(client, "/execute", b'{"query": "graphs", "max_papers": NaN}')
    assert _fields(nan) == ["max_papers"]
    long_query = client.post("/execute", json={"query": "x" * 501})
    assert _fields(long_query) == ["query"]
    too_many = client.post("/execute", json={"query": "graphs", "categories": ["cs.LG"] * 21})
    assert _fields(too_many) == ["categories"]


def test_an_unknown_field_is_named_and_echoed_safely(client: TestClient) -> None:
    odd = "\x01" + "k" * 200  # a control character and a long name: escaped, cut
    response = _post(client, "/execute", json.dumps({"query": "graphs", odd: 1}).encode())
    assert_safe(response)
    (field,) = _fields(response)
    assert field.startswith("\\x01kkk") and len(field) <= 64
    surrogate = json.dumps({"query": "graphs", "\ud800": 1}).encode()  # no UTF-8 has it
    response = _post(client, "/execute", surrogate)
    assert_safe(response)
    assert _fields(response) == ["body"]


def test_an_oversized_body_is_a_413_read_no_further(client: TestClient) -> None:
    big = json.dumps({"query": "graphs", "pad": "x" * MAX_BODY_BYTES}).encode()
    declared = _post(client, "/execute", big)
    assert declared.status_code == 413 and declared.json()["error"] == "payload_too_large"
    assert_safe(declared)

    def chunks() -> Any:  # no Content-Length: streamed, counted as it comes
        yield b'{"query": "graphs", "pad": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    streamed = client.post(
        "/execute", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413 and streamed.json()["error"] == "payload_too_large"
    lying = _post(client, "/execute", b"{}", **{"content-length": "nope"})
    assert lying.status_code in (400, 413)
    assert_safe(lying)


def test_a_long_url_is_a_414(client: TestClient) -> None:
    response = client.get("/health", params={"q": "x" * MAX_URL_BYTES})
    assert response.status_code == 414 and response.json()["error"] == "uri_too_long"
    assert_safe(response)
    assert client.get("/health", params={"q": "x" * 100}).status_code == 200  # ignored


def test_a_body_in_another_media_type_is_a_422(client: TestClient) -> None:
    response = _post(client, "/execute", b"query=graphs", **{"content-type": "text/plain"})
    assert_safe(response)
    assert _fields(response) == ["body"]


def test_a_body_sent_too_slowly_is_a_408_before_any_route_sees_it() -> None:
    # A client that trickles its body would hold one of the replica's admission slots.
    seen: list[str] = []
    slow_app = FastAPI()

    @slow_app.post("/execute")
    async def execute(body: dict[str, Any]) -> dict[str, Any]:
        seen.append("route")
        return body

    slow_app.add_middleware(InputLimits, body_timeout_s=0.3)
    install_error_handlers(slow_app)

    async def trickle() -> Any:
        yield b'{"query": '
        await asyncio.sleep(5)  # stalls: the answer comes at 0.3 s
        yield b'"graphs"}'

    async def go() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=slow_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://arm") as client:
            slow = await client.post("/execute", content=trickle())
            prompt = await client.post("/execute", json={"query": "graphs"})
            return slow, prompt

    slow, prompt = asyncio.run(go())
    assert slow.status_code == 408 and slow.json()["error"] == "timeout"
    assert "within 0.3 s" in slow.json()["message"]
    assert_safe(slow)
    assert prompt.status_code == 200 and seen == ["route"]
