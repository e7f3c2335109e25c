"""ArmClient and AsyncArmClient against a mock arm: what they send, what they return."""

from __future__ import annotations

import pickle

import httpx
import pytest
from pydantic import ValidationError

from arm_client import (
    ArmApiError,
    ArmClient,
    InvalidRequestError,
    NotFoundError,
    UnauthorizedError,
    UnavailableError,
)
from arm_client.models import FieldError
from tests.unit.client.fakes import (
    HEALTH,
    PAPERS,
    URL,
    Arm,
    async_client,
    client,
    error,
    ids,
    ok,
    research_response,
)


def test_execute_sends_the_validated_request_with_auth_and_a_key() -> None:
    arm = Arm([ok(research_response())])
    with client(arm, api_key="sekrit") as arm_client:
        answer = arm_client.execute(
            "  graph   neural networks ",
            max_papers=3,
            start_date="2023-01-01",
            categories=["cs.LG"],
            include_summaries=False,
            citation_style="ieee",
        )
    assert ids(answer.papers) == ids(PAPERS)
    (sent,) = arm.requests
    assert sent.method == "POST" and str(sent.url) == f"{URL}/execute"
    assert sent.headers["Authorization"] == "Bearer sekrit"
    assert len(sent.headers["Idempotency-Key"]) == 36  # a uuid4
    assert sent.headers["X-Request-ID"]
    assert arm.bodies() == [
        {
            "query": "graph neural networks",
            "max_papers": 3,
            "start_date": "2023-01-01",
            "include_summaries": False,
            "citation_style": "ieee",
            "categories": ["cs.LG"],
            "include_evidence": False,
            "evidence_per_paper": 3,
        }
    ]


def test_bad_input_fails_before_any_call() -> None:
    arm = Arm([ok(research_response())])
    with client(arm) as arm_client:
        for kwargs in (
            {"query": "ab"},
            {"query": "graphs", "max_papers": 0},
            {"query": "graphs", "start_date": "2024-02-30"},
            {"query": "graphs", "start_date": "2024-03-01", "end_date": "2024-01-01"},
            {"query": "graphs", "categories": ["not a category"]},
        ):
            with pytest.raises(ValidationError):
                arm_client.execute(**kwargs)
        with pytest.raises(ValidationError):
            arm_client.search_memory("graphs", limit=1000)
    assert arm.requests == []


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARM_URL", "http://elsewhere:9000/")
    monkeypatch.setenv("ARM_API_KEY", "from-env")
    arm = Arm([ok(HEALTH)])
    with ArmClient(transport=httpx.MockTransport(arm)) as arm_client:
        arm_client.health()
    assert str(arm.requests[0].url) == "http://elsewhere:9000/health"
    assert arm.requests[0].headers["Authorization"] == "Bearer from-env"
    monkeypatch.delenv("ARM_URL")
    monkeypatch.delenv("ARM_API_KEY")
    with ArmClient(transport=httpx.MockTransport(arm)) as arm_client:
        assert arm_client.base_url == "http://127.0.0.1:8000"
        arm_client.health()
    assert "Authorization" not in arm.requests[1].headers


def test_memory_search_paper_and_forget() -> None:
    record = {
        "paper": research_response()["papers"][1],
        "summary": None,
        "queries": ["old physics"],
        "stored_at": "2024-02-01T00:00:00Z",
    }
    arm = Arm(
        [
            ok({"papers": research_response()["papers"], "count": 2}),
            ok(record),
            httpx.Response(204),
            error(404, "not_found", "hep-ex/0406020 is not in memory", rid="rid-404"),
        ]
    )
    with client(arm) as arm_client:
        found = arm_client.search_memory("graphs", limit=2, end_date="2024-12-31")
        assert found.count == 2
        assert arm_client.get_paper("hep-ex/0406020").queries == ["old physics"]
        arm_client.forget_paper("hep-ex/0406020")
        with pytest.raises(NotFoundError) as caught:
            arm_client.get_paper("hep-ex/0406020")
    assert arm.bodies()[0] == {
        "query": "graphs",
        "limit": 2,
        "end_date": "2024-12-31",
        "scope": "papers",
    }
    assert [(r.method, r.url.path) for r in arm.requests[1:]] == [
        ("GET", "/main/papers/hep-ex/0406020"),
        ("DELETE", "/main/papers/hep-ex/0406020"),
        ("GET", "/main/papers/hep-ex/0406020"),
    ]
    assert caught.value.status == 404 and caught.value.request_id == "rid-404"
    assert "rid-404" in str(caught.value)


def test_health_answers_a_down_arm_and_raises_other_errors() -> None:
    down = {**HEALTH, "status": "down"}
    arm = Arm([httpx.Response(503, json=down), error(401, "unauthorized", "no")])
    with client(arm, max_retries=0) as arm_client:
        assert arm_client.health().status == "down"
        with pytest.raises(UnauthorizedError):
            arm_client.capabilities()
    assert "Authorization" not in arm.requests[0].headers


def test_a_422_surfaces_its_field_errors() -> None:
    detail = [{"field": "categories.0", "message": "String should match pattern", "type": "x"}]
    arm = Arm([error(422, "validation_error", "1 invalid field", rid="rid-422", detail=detail)])
    with client(arm) as arm_client, pytest.raises(InvalidRequestError) as caught:
        arm_client.execute("graph neural networks")
    assert caught.value.detail == [FieldError(**detail[0])]
    assert caught.value.error == "validation_error"
    assert "categories.0: String should match pattern" in str(caught.value)
    assert "rid-422" in str(caught.value)
    assert len(arm.requests) == 1


def test_an_error_without_an_error_body_keeps_what_is_known() -> None:
    page = httpx.Response(
        502,
        text="<html><body>Bad gateway</body></html>",
        headers={"Content-Type": "text/html", "X-Request-ID": "rid-proxy"},
    )
    arm = Arm([page])
    with client(arm) as arm_client, pytest.raises(ArmApiError) as caught:
        arm_client.capabilities()
    assert caught.value.status == 502 and caught.value.error == "http_error"
    assert "Bad gateway" in caught.value.message
    assert "rid-proxy" in str(caught.value)


def test_an_answer_that_is_not_the_model_is_an_error() -> None:
    arm = Arm([ok({"papers": "nope"})])
    with client(arm) as arm_client, pytest.raises(ArmApiError) as caught:
        arm_client.execute("graph neural networks")
    assert caught.value.error == "invalid_response" and caught.value.request_id == "rid-ok"


def test_errors_pickle_with_their_fields() -> None:
    original = UnavailableError(
        503,
        "stage_unavailable",
        "the embedder is restarting",
        request_id="rid-9",
        retry_after_s=5.0,
        detail=None,
    )
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is UnavailableError
    assert (copy.status, copy.error, copy.request_id, copy.retry_after_s) == (
        503,
        "stage_unavailable",
        "rid-9",
        5.0,
    )
    assert str(copy) == str(original)


async def test_the_async_client_sends_and_parses_the_same() -> None:
    arm = Arm(
        [
            error(503, "stage_unavailable", "busy", headers={"Retry-After": "2"}),
            ok(research_response()),
            ok(HEALTH),
        ]
    )
    async with async_client(arm, api_key="k") as arm_client:
        answer = await arm_client.execute("graph neural networks", max_papers=2)
        assert (await arm_client.health()).status == "ok"
    assert ids(answer.papers) == ids(PAPERS)
    first, second, _ = arm.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.headers["Authorization"] == "Bearer k"
    assert arm.bodies()[0] == {
        "query": "graph neural networks",
        "max_papers": 2,
        "include_summaries": True,
        "citation_style": "apa",
        "include_evidence": False,
        "evidence_per_paper": 3,
    }
