"""POST /execute and friends through the real five-stage graph (default extractive backend)."""

from __future__ import annotations

import re

import pytest

from deployments.summarizer.text import split_sentences
from tests.graph.conftest import App


def _post(app: App, payload: dict, **kw: object) -> dict:
    response = app.client.post("/execute", json=payload, **kw)
    assert response.status_code == 200, response.text
    return response.json()


def test_execute_ranks_summarises_and_cites(main_app: App) -> None:
    both = _post(main_app, {"query": "graph neural networks", "max_papers": 5})
    # Two papers have all three words; the fallback (any of them) finds a third.
    assert {p["arxiv_id"] for p in both["papers"]} == {"2402.00003", "2402.00004", "2403.00005"}
    assert both["total_found"] == 3
    assert both["query_used"] == "(all:graph OR all:neural OR all:networks)"
    scores = [p["relevance_score"] for p in both["papers"]]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    assert both["confidence"] == pytest.approx(sum(scores) / len(scores), abs=1e-3)
    best = _post(main_app, {"query": "graph neural networks", "max_papers": 1})
    assert [p["arxiv_id"] for p in best["papers"]] == [both["papers"][0]["arxiv_id"]]

    body = _post(main_app, {"query": "molecular property prediction", "max_papers": 3})
    assert [p["arxiv_id"] for p in body["papers"]] == ["2402.00003"]
    top = body["papers"][0]
    # An extractive TLDR is (a compression of) one of the abstract's own sentences.
    assert top["summary"] and any(
        top["summary"].rstrip(".") in s for s in split_sentences(top["abstract"])
    )
    assert len(top["summary"].split()) <= 30
    assert top["citation"] == (
        "Rossi, E., Haddad, F., & Liu, G. (2024). Graph Neural Networks for Molecular Property "
        "Prediction (arXiv:2402.00003). arXiv. https://doi.org/10.48550/arXiv.2402.00003"
    )
    assert top["bibtex"].startswith("@misc{rossi2024graph,")
    assert top["published_date"] == "2024-02-01" and top["primary_category"] == "cs.LG"
    prov = body["provenance"]
    assert prov["timestamp"].endswith(("Z", "+00:00"))
    assert {t["stage"] for t in prov["timings"]} >= {
        "search",
        "embed",
        "summarize",
        "memory_upsert",
    }
    assert prov["models"]["embedder"] == "all-MiniLM-L6-v2"
    assert prov["models"]["search"] == "api" and prov["sources"][0] == "arxiv"
    assert set(prov["found_in"].values()) == {"api"}  # the stand-in: no index here
    assert body["warnings"] == []


def test_repeat_reuses_memory_and_stores_nothing_twice(main_app: App) -> None:
    memory = main_app.handle("MemoryWriter")
    embedder = main_app.handle("Embedder")
    query = {"query": "attention summarization", "max_papers": 3}

    first = _post(main_app, query)
    stored_after_first = memory.count.remote().result()
    embedded_after_first = embedder.info.remote().result().texts_total
    arxiv_calls = len(main_app.arxiv.requests())
    assert first["provenance"]["cache"]["embedded"] >= 2
    assert first["provenance"]["cache"]["summaries_made"] == len(first["papers"])

    second = _post(main_app, query)
    cache = second["provenance"]["cache"]
    assert cache["embedded"] == 0 and cache["summaries_made"] == 0
    assert cache["summaries_reused"] == len(second["papers"]) and cache["stored"] == 0
    assert cache["arxiv_cache_hit"] == 1 and len(main_app.arxiv.requests()) == arxiv_calls
    # Measured at the stages themselves, not just claimed by provenance:
    assert embedder.info.remote().result().texts_total == embedded_after_first
    assert memory.count.remote().result() == stored_after_first
    assert [p["summary"] for p in second["papers"]] == [p["summary"] for p in first["papers"]]
    assert [p["arxiv_id"] for p in second["papers"]] == [p["arxiv_id"] for p in first["papers"]]

    # A different query that finds the same papers stores no second copy of them either.
    _post(main_app, {"query": "attention transformers", "max_papers": 3})
    ids_seen = {p["arxiv_id"] for p in first["papers"]}
    lookup = memory.lookup.remote(sorted(ids_seen)).result()
    assert set(lookup) == ids_seen
    assert any(len(stored.queries) == 2 for stored in lookup.values())


def test_memory_search_finds_stored_papers(main_app: App) -> None:
    _post(main_app, {"query": "efficient attention mechanisms survey", "max_papers": 2})
    response = main_app.client.post(
        "/memory/search", json={"query": "a survey of efficient attention", "limit": 3}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(body["papers"]) >= 1
    assert body["papers"][0]["arxiv_id"] == "2401.00002"
    assert 0 < body["papers"][0]["relevance_score"] <= 1
    assert body["papers"][0]["summary"]
    dated = main_app.client.post(
        "/memory/search",
        json={
            "query": "a survey of efficient attention",
            "limit": 3,
            "start_date": "2025-01-01",
            "end_date": "2025-12-31",
        },
    ).json()
    assert dated == {"papers": [], "count": 0, "passages": []}


def test_without_summaries(main_app: App) -> None:
    body = _post(
        main_app,
        {"query": "galaxy cluster weak lensing", "max_papers": 1, "include_summaries": False},
    )
    assert body["papers"][0]["arxiv_id"] == "2405.00009"
    assert body["papers"][0]["summary"] is None
    assert body["provenance"]["cache"]["summaries_made"] == 0


def test_no_results_is_an_empty_answer(main_app: App) -> None:
    body = _post(main_app, {"query": "zebrafish hox genes"})
    assert body["papers"] == [] and body["total_found"] == 0 and body["confidence"] == 0.0


def test_health_reports_every_stage_and_never_calls_arxiv(main_app: App) -> None:
    before = len(main_app.arxiv.requests())
    for _ in range(3):
        response = main_app.client.get("/health")
        assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["stages"]) == {
        "ingress",
        "arxiv",
        "arxiv_gate",
        "embedder",
        "summarizer",
        "memory",
        "reader",
    }
    # Unauthenticated: no paths, URLs or internal figures, only replica counts.
    details = [stage["detail"] for stage in body["stages"].values()]
    assert all(re.fullmatch(r"\d+/\d+ replicas running \(\w+\)", d) for d in details), details
    assert len(main_app.arxiv.requests()) == before


def test_capabilities_carry_the_schemas(main_app: App) -> None:
    body = main_app.client.get("/capabilities").json()
    assert body["input_schema"]["properties"]["max_papers"]["maximum"] == 20
    assert "papers" in body["output_schema"]["properties"]
    assert body["endpoints"]["execute"] == "POST /execute"
    assert body["models"]["embedder"] == "all-MiniLM-L6-v2"
    assert main_app.client.get("/docs").status_code == 200


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"query": "ab"}, "query"),
        ({"query": "fine query", "max_papers": 50}, "max_papers"),
        ({"query": "fine query", "start_date": "2023-02-30"}, "start_date"),
        ({"query": "fine query", "start_date": "2024-02-01", "end_date": "2024-01-01"}, "body"),
        ({"query": "bad\u0000query"}, "query"),
        ({"query": "fine query", "include_summaries": "perhaps"}, "include_summaries"),
        ({"query": "fine query", "unexpected": 1}, "unexpected"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(main_app: App, payload: dict, field: str) -> None:
    response = main_app.client.post("/execute", json=payload)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert field in {d["field"] for d in body["detail"]}
    assert "Traceback" not in response.text


def test_not_json_is_a_422(main_app: App) -> None:
    response = main_app.client.post(
        "/execute", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and "Traceback" not in response.text


def test_arxiv_error_feed_is_a_400_with_arxivs_message(main_app: App) -> None:
    main_app.arxiv.set_fault("error", count=1, message="Invalid query string: 'all:(weird'")
    response = main_app.client.post("/execute", json={"query": "exoplanet atmospheres"})
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid query string: 'all:(weird'"


def test_arxiv_down_is_a_503_with_retry_after(main_app: App) -> None:
    main_app.arxiv.set_fault("503", count=-1, retry_after=7)
    try:
        response = main_app.client.post("/execute", json={"query": "bosonic codes logical qubits"})
    finally:
        main_app.arxiv.set_fault("ok", count=0)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert response.json()["error"] == "arxiv_unavailable"
    # And once arXiv is back, the same request works.
    assert (
        main_app.client.post("/execute", json={"query": "bosonic codes logical qubits"}).status_code
        == 200
    )
