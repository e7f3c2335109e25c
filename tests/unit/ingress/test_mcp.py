"""``/mcp`` on the real Ingress in process (no Ray), through the MCP SDK's own client: the
served app copy over an ASGI transport, on the event loop where its lifespan runs the session
manager (the TestClient's portal)."""

from __future__ import annotations

import pickle
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pytest
from fastapi.testclient import TestClient
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from deployments.ingress.mcp import McpEndpoint
from deployments.ingress.mcp.server import transport_security
from tests.unit.ingress.in_process import ingress_client

T = TypeVar("T")
KEY = "k-mcp-123"
TOOLS = {"search_papers", "read_paper", "recall_memory", "format_citations"}
# What an MCP POST carries besides the JSON-RPC body.
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}


def _mcp(
    client: TestClient,
    work: Callable[[Client], Awaitable[T]],
    host: str = "127.0.0.1",
    token: str | None = None,
) -> T:
    """``work`` with an SDK client connected to the served app's /mcp."""

    async def run() -> T:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = httpx2.ASGITransport(app=client.app)
        async with httpx2.AsyncClient(transport=transport, headers=headers) as http:
            streams = streamable_http_client(f"http://{host}/mcp", http_client=http)
            async with Client(streams) as mcp:
                return await work(mcp)

    return client.portal.call(run)


async def _call(mcp: Client, /, name: str, **arguments: Any) -> Any:
    return await mcp.call_tool(name, arguments)


def test_tools_listed_with_typed_schemas(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with ingress_client(monkeypatch, tmp_path) as client:
        listed = _mcp(client, lambda mcp: mcp.list_tools())
    tools = {tool.name: tool for tool in listed.tools}
    assert tools.keys() == TOOLS
    search = tools["search_papers"].input_schema
    assert search["required"] == ["query"]
    assert {"query", "max_papers", "start_date", "end_date", "categories"} <= search[
        "properties"
    ].keys()
    assert search["properties"]["max_papers"]["maximum"] == 20
    assert tools["recall_memory"].input_schema["properties"].keys() == {"query", "limit", "scope"}
    cite = tools["format_citations"].input_schema["properties"]
    assert cite["format"]["enum"] == ["text", "bibtex", "ris", "csl"]
    assert cite["style"]["default"] == "apa"
    for tool in tools.values():  # structured output: each answer has a schema
        assert tool.output_schema and tool.output_schema["type"] == "object"
    assert "papers" in (tools["search_papers"].output_schema or {})["properties"]


def test_each_tool_over_the_flow(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with ingress_client(monkeypatch, tmp_path) as client:
        found = _mcp(client, lambda m: _call(m, "search_papers", query="graph neural networks"))
        assert not found.is_error, found.content
        papers = found.structured_content["papers"]
        assert papers and papers[0]["citation"] and papers[0]["bibtex"]
        recalled = _mcp(client, lambda m: _call(m, "recall_memory", query="graphs", limit=2))
        assert not recalled.is_error, recalled.content
        assert 0 < recalled.structured_content["count"] <= 2
        ids = [papers[0]["arxiv_id"], f"{papers[0]['arxiv_id']}v1", "2401.99999"]
        text = _mcp(client, lambda m: _call(m, "format_citations", arxiv_ids=ids, style="ieee"))
        assert not text.is_error, text.content
        cited = text.structured_content
        assert [c["arxiv_id"] for c in cited["citations"]] == ids[:2]
        assert cited["missing"] == ["2401.99999"] and cited["style"] == "ieee"
        assert cited["citations"][0]["citation"].startswith("A. Lovelace, “")  # IEEE, not APA
        for fmt, starts in (("bibtex", "@misc{"), ("ris", "TY  - ")):
            got = _mcp(client, partial(_call, name="format_citations", arxiv_ids=ids, format=fmt))
            assert got.structured_content["citations"][0]["citation"].startswith(starts)
        csl = _mcp(client, lambda m: _call(m, "format_citations", arxiv_ids=ids, format="csl"))
        item = csl.structured_content["citations"][0]["csl"]
        assert item["number"] == papers[0]["arxiv_id"] and item["title"]


def test_wrong_arguments_are_tool_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with ingress_client(monkeypatch, tmp_path) as client:
        short = _mcp(client, lambda m: _call(m, "search_papers", query="ab"))
        assert short.is_error and "query" in short.content[0].text
        many = _mcp(client, lambda m: _call(m, "search_papers", query="graphs", max_papers=99))
        assert many.is_error and "max_papers" in many.content[0].text
        style = _mcp(client, lambda m: _call(m, "format_citations", arxiv_ids=["1"], style="x"))
        assert style.is_error and "unknown CSL style 'x'" in style.content[0].text
        fmt = _mcp(client, lambda m: _call(m, "format_citations", arxiv_ids=["1"], format="doc"))
        assert fmt.is_error and "format" in fmt.content[0].text
        # Still serving after the refusals.
        assert _mcp(client, lambda m: m.list_tools()).tools


def test_the_bearer_token_guards_mcp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARM_API_KEY", KEY)
    with ingress_client(monkeypatch, tmp_path) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}):
            refused = client.post("/mcp", json=LIST_TOOLS, headers={**MCP_HEADERS, **headers})
            assert refused.status_code == 401
            assert refused.json()["error"] == "unauthorized"
        with pytest.raises(ExceptionGroup) as failed:  # the SDK client cannot connect
            _mcp(client, lambda m: m.list_tools())
        assert failed.group_contains(MCPError, depth=2)
        listed = _mcp(client, lambda m: m.list_tools(), token=KEY)
        assert {tool.name for tool in listed.tools} == TOOLS


def test_bare_mcp_answers_without_redirect(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with ingress_client(monkeypatch, tmp_path) as client:
        answer = client.post(
            "http://localhost:8000/mcp",
            json=LIST_TOOLS,
            headers=MCP_HEADERS,
            follow_redirects=False,
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/json")  # stateless JSON
        assert "mcp-session-id" not in answer.headers  # no session: any replica answers
        assert {t["name"] for t in answer.json()["result"]["tools"]} == TOOLS


def test_hosts_outside_the_allowlist_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    proxied = "arm.example.org"
    with ingress_client(monkeypatch, tmp_path) as client:
        refused = client.post(f"http://{proxied}/mcp", json=LIST_TOOLS, headers=MCP_HEADERS)
        assert refused.status_code == 421
    with ingress_client(monkeypatch, tmp_path, mcp_allowed_hosts=proxied) as client:
        listed = _mcp(client, lambda m: m.list_tools(), host=proxied)
        assert {tool.name for tool in listed.tools} == TOOLS
        local = client.post("http://localhost/mcp", json=LIST_TOOLS, headers=MCP_HEADERS)
        assert local.status_code == 421  # the list replaces the default
    with ingress_client(monkeypatch, tmp_path, mcp_allowed_hosts="*") as client:
        anywhere = client.post(f"http://{proxied}:8443/mcp", json=LIST_TOOLS, headers=MCP_HEADERS)
        assert anywhere.status_code == 200


def test_allowed_hosts_setting() -> None:
    default = transport_security("localhost,127.0.0.1,[::1]")
    assert default.allowed_hosts == [
        "localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*", "[::1]", "[::1]:*"
    ]  # fmt: skip
    assert "http://localhost:*" in default.allowed_origins
    assert transport_security(" a.org:443 , [::1]:8000").allowed_hosts == [
        "a.org:443",
        "[::1]:8000",
    ]
    assert not transport_security("*").enable_dns_rebinding_protection


def test_the_route_pickles_without_a_server() -> None:
    """What Serve pickles with the app: a shim of no state, found again by reference."""
    shim = McpEndpoint()
    assert vars(shim) == {}
    assert type(pickle.loads(pickle.dumps(shim))) is McpEndpoint
