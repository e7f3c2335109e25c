"""``/mcp`` through the real graph, with the MCP SDK's own client over streamable HTTP: the
tools listed and called through Serve's proxy, and the bearer token of an arm with a key."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.graph.conftest import App

T = TypeVar("T")
KEY = "test-key-123"
TOOLS = {"search_papers", "read_paper", "recall_memory", "format_citations"}


def _mcp(app: App, work: Callable[[Client], Awaitable[T]], token: str | None = None) -> T:
    """``work`` with an SDK client connected to the application's /mcp."""

    async def run() -> T:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        http = httpx2.AsyncClient(headers=headers, timeout=120.0)
        transport = streamable_http_client(f"{app.url}/mcp", http_client=http)
        async with http, Client(transport) as mcp:
            return await work(mcp)

    return asyncio.run(run())


def _call(app: App, name: str, token: str | None = None, **arguments: Any) -> Any:
    return _mcp(app, lambda mcp: mcp.call_tool(name, arguments), token)


def test_tools_through_the_graph(main_app: App) -> None:
    listed = _mcp(main_app, lambda mcp: mcp.list_tools())
    assert {tool.name for tool in listed.tools} == TOOLS
    found = _call(main_app, "search_papers", query="graph neural networks", max_papers=2)
    assert not found.is_error, found.content
    papers = found.structured_content["papers"]
    assert 0 < len(papers) <= 2 and papers[0]["citation"]
    recalled = _call(main_app, "recall_memory", query="graph neural networks", limit=5)
    assert not recalled.is_error, recalled.content
    assert recalled.structured_content["count"] > 0
    ids = [papers[0]["arxiv_id"], "2401.99999"]
    cited = _call(main_app, "format_citations", arxiv_ids=ids, format="bibtex")
    assert not cited.is_error, cited.content
    assert cited.structured_content["citations"][0]["citation"].startswith("@misc{")
    assert cited.structured_content["missing"] == ["2401.99999"]
    wrong = _call(main_app, "format_citations", arxiv_ids=ids, style="no-such-style")
    assert wrong.is_error and "unknown CSL style" in wrong.content[0].text


def test_bare_mcp_answers_without_redirect(main_app: App) -> None:
    answer = httpx.post(
        f"{main_app.url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        headers={"Accept": "application/json, text/event-stream"},
        follow_redirects=False,
        timeout=60.0,
    )
    assert answer.status_code == 200, answer.text
    assert {tool["name"] for tool in answer.json()["result"]["tools"]} == TOOLS


def test_mcp_needs_the_token_when_a_key_is_set(llm_app: App) -> None:
    refused = llm_app.client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    with pytest.raises(ExceptionGroup):
        _mcp(llm_app, lambda mcp: mcp.list_tools())
    listed = _mcp(llm_app, lambda mcp: mcp.list_tools(), token=KEY)
    assert {tool.name for tool in listed.tools} == TOOLS
