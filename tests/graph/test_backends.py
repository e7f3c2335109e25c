"""The LLM summarizer backends and bearer auth, through the real graph."""

from __future__ import annotations

import httpx
import pytest

from tests.graph.conftest import App

AUTH = {"Authorization": "Bearer test-key-123"}
QUERY = {"query": "surface code decoding neural networks", "max_papers": 2}
FIRST_SENTENCE = "Quantum error correction needs fast and accurate decoders."


def test_auth_is_required_when_a_key_is_set(llm_app: App) -> None:
    assert llm_app.client.post("/execute", json=QUERY).status_code == 401
    wrong = llm_app.client.post("/execute", json=QUERY, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    assert llm_app.client.post("/memory/search", json={"query": "decoders"}).status_code == 401
    # Every endpoint but the probe needs the token, discovery and the docs included.
    assert llm_app.client.get("/health").status_code == 200
    for path in ("/capabilities", "/docs", "/openapi.json"):
        assert llm_app.client.get(path).status_code == 401, path
    capabilities = llm_app.client.get("/capabilities", headers=AUTH)
    assert capabilities.json()["limits"]["auth"] == "bearer"


def test_openai_backend_summaries_are_cleaned(llm_app: App) -> None:
    response = llm_app.client.post("/execute", json=QUERY, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    top = body["papers"][0]
    assert top["arxiv_id"] == "2403.00005"
    # The stand-in answers "<think>..</think> Sure! Here is a TLDR: <sentence>";
    # only the sentence stays.
    assert top["summary"] == FIRST_SENTENCE
    assert body["provenance"]["models"]["summarizer"] == "openai:standin-model"
    assert body["warnings"] == []


def test_summarizer_failure_degrades_to_null_and_a_warning(llm_app: App) -> None:
    assert llm_app.openai is not None
    httpx.post(llm_app.openai.base_url.replace("/v1", "/_control"), json={"mode": "500"})
    try:
        response = llm_app.client.post(
            "/execute", json={"query": "exoplanet transmission spectroscopy"}, headers=AUTH
        )
    finally:
        httpx.post(llm_app.openai.base_url.replace("/v1", "/_control"), json={"mode": "ok"})
    assert response.status_code == 200
    body = response.json()
    assert body["papers"] and all(p["summary"] is None for p in body["papers"])
    assert any(
        w["code"].startswith("summary_") and w["arxiv_id"] == "2405.00010" for w in body["warnings"]
    )
    # The failure was not remembered as a summary: asking again (endpoint healthy) makes one.
    again = llm_app.client.post(
        "/execute", json={"query": "exoplanet transmission spectroscopy"}, headers=AUTH
    ).json()
    assert again["papers"][0]["summary"]
    assert again["provenance"]["cache"]["summaries_made"] == len(again["papers"])


@pytest.mark.vllm
def test_vllm_backend_through_the_llm_server_interface(vllm_app: App) -> None:
    response = vllm_app.client.post("/execute", json=QUERY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["papers"][0]["summary"] == FIRST_SENTENCE  # "<think>" and "TL;DR:" removed
    assert body["provenance"]["models"]["summarizer"] == "vllm:Qwen/Qwen2.5-0.5B-Instruct"
    calls = vllm_app.handle("StandInLLMServer").stats.remote().result()["calls"]
    assert calls == len(body["papers"])
