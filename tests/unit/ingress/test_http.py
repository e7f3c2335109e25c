"""The Ingress's HTTP layer without Ray: the one error mapping, request ids, bearer auth, and
/health's verdict from Serve's view of the stages, and the real Ingress in process
(``in_process.ingress_client``)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from deployments.ingress.http.app import make_app
from deployments.ingress.http.auth import require_bearer
from deployments.ingress.http.health import DeploymentView, StageStates, health_report, stage_health
from deployments.ingress.http.routes.research import is_warm
from models.errors import (
    ArxivQueryError,
    ArxivUnavailable,
    DeadlineExpired,
    Overloaded,
    StageError,
)
from models.research import ResearchResponse
from tests.unit.ingress.in_process import ingress_client


class RayTaskErrorLike(Exception):
    """How an error reaches the Ingress from another replica: wrapped, ``.cause`` inside."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(repr(cause))
        self.cause = cause


class Body(BaseModel):
    n: int = Field(ge=1, le=5)


class Numbered(BaseModel):
    n: int = Field(ge=1, le=99)


def app_raising(exc: BaseException | None = None) -> FastAPI:
    app = make_app()

    @app.post("/work", dependencies=[Depends(require_bearer)])
    async def work(body: Body) -> dict[str, int]:
        if exc is not None:
            raise exc
        return {"n": body.n}

    return app


def call(exc: BaseException | None, **kw: Any) -> Any:
    with TestClient(app_raising(exc)) as client:  # runs the app's lifespan, as Serve does
        return client.post("/work", json=kw.pop("json", {"n": 1}), **kw)


def test_arxiv_rejecting_the_query_is_a_400_with_its_message() -> None:
    response = call(ArxivQueryError("Invalid query string: 'all:(x'", status=400))
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
    assert response.json()["message"] == "Invalid query string: 'all:(x'"


def test_arxiv_down_is_a_503_with_retry_after_even_through_ray() -> None:
    wrapped = RayTaskErrorLike(ArxivUnavailable("arXiv unavailable", 7.2, status=503))
    response = call(wrapped)
    assert response.status_code == 503 and response.headers["Retry-After"] == "8"
    assert response.json()["error"] == "arxiv_unavailable"


class ActorDiedError(Exception):
    """Named like Ray's: a replica that died under a request (Serve restarts it)."""


@pytest.mark.parametrize(
    "exc",
    [StageError("embedder died at /srv/secret", "embedder"), RayTaskErrorLike(ActorDiedError())],
)
def test_a_stage_that_failed_or_died_is_a_503_with_retry_after(exc: Exception) -> None:
    response = call(exc, headers={"X-Request-ID": "req-42"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    body = response.json()
    assert body["error"] == "stage_unavailable" and body["request_id"] == "req-42"
    assert "secret" not in response.text and "Traceback" not in response.text


def test_the_deadline_is_a_503_overloaded_with_retry_after() -> None:
    response = call(Overloaded("no answer within 60 s", retry_after_s=30))
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert response.json()["error"] == "overloaded"


@pytest.mark.parametrize("exc", [RuntimeError("bug at /srv/secret/path"), KeyError("x")])
def test_anything_else_is_a_500_with_the_request_id_and_no_internals(exc: Exception) -> None:
    response = call(exc, headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500
    body = response.json()
    assert body == {
        "error": "internal_error",
        "message": "internal error; quote request id req-42",
        "request_id": "req-42",
    }
    assert "Traceback" not in response.text and "secret" not in response.text


def test_a_request_without_an_id_gets_a_fresh_one() -> None:
    first = call(StageError("x")).json()["request_id"]
    second = call(StageError("x"), headers={"X-Request-ID": "\x7fbad"}).json()["request_id"]
    uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    assert re.fullmatch(uuid, first) and re.fullmatch(uuid, second) and first != second


def test_bad_input_is_a_422_naming_the_field() -> None:
    response = call(None, json={"n": 9})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "n"
    assert response.json()["message"].startswith("invalid request: n:")


def test_bearer_auth_when_a_key_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert call(None).status_code == 200  # no key: open
    monkeypatch.setenv("ARM_API_KEY", "k-123")
    missing = call(None)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    assert missing.json()["error"] == "unauthorized"
    assert call(None, headers={"Authorization": "Bearer k-124"}).status_code == 401
    assert call(None, headers={"Authorization": "Basic k-123"}).status_code == 401
    assert call(None, headers={"Authorization": "Bearer k-123"}).status_code == 200


def test_every_answer_of_a_work_route_is_counted_by_status_and_outcome(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers: list[tuple[str, int, str]] = []

    class Metrics:
        def answered(self, route: str, status: int, outcome: str) -> None:
            answers.append((route, status, outcome))

    monkeypatch.setattr("deployments.ingress.http.app.IngressMetrics", Metrics)
    app = make_app()
    failures: dict[int, Exception] = {
        5: RuntimeError("a bug"),
        6: DeadlineExpired("no answer within 60 s", 30.0),
        7: Overloaded("at capacity"),
        8: ArxivUnavailable("arXiv unavailable after 4 request(s): HTTP 503", 30.0),
        9: StageError("the embedder stage failed", "embedder"),
        10: ArxivQueryError("arXiv: malformed query"),
    }

    @app.post("/execute")
    async def execute(body: Numbered) -> dict[str, int]:
        if body.n in failures:
            raise failures[body.n]
        return {"n": body.n}

    # Serve mounts the app under the application's route prefix.
    with TestClient(app, root_path="/arm", raise_server_exceptions=False) as client:
        for n in (1, 0, *failures):
            client.post("/execute", json={"n": n})
        assert client.get("/nowhere").status_code == 404  # not a work route: not counted
    assert answers == [
        ("/execute", 200, "ok"),
        ("/execute", 422, "bad_request"),
        ("/execute", 500, "internal_error"),
        ("/execute", 503, "timeout"),  # answered as overloaded, counted as a deadline passed
        ("/execute", 503, "overloaded"),
        ("/execute", 503, "arxiv_unavailable"),
        ("/execute", 503, "stage_unavailable"),
        ("/execute", 400, "bad_request"),
    ]


def test_only_an_answer_from_what_the_arm_holds_is_warm(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The latency SLO is on warm requests: no arXiv API request waited on, nothing embedded,
    no summary made."""
    with ingress_client(monkeypatch, tmp_path) as client:
        answers = [client.post("/execute", json={"query": "graph neural networks"}) for _ in "ab"]
    first, again = (ResearchResponse.model_validate(a.json()) for a in answers)
    assert not is_warm(first)  # arXiv asked, texts embedded, summaries made
    # Again: all from memory, but this stage fake has no search cache, so arXiv was asked.
    assert again.provenance.cache["summaries_made"] == again.provenance.cache["embedded"] == 0
    assert not is_warm(again)

    def answered(search: str, **cache: int) -> ResearchResponse:
        provenance = again.provenance.model_copy(
            update={
                "cache": {**again.provenance.cache, **cache},
                "models": {**again.provenance.models, "search": search},
            }
        )
        return again.model_copy(update={"provenance": provenance})

    assert is_warm(answered("api", arxiv_cache_hit=1))  # the search's cache answered
    assert is_warm(answered("index"))  # the local index alone
    assert not is_warm(answered("hybrid"))  # may have waited on arXiv for the newest
    assert not is_warm(answered("index", summaries_made=1))
    assert not is_warm(answered("index", embedded=2))


def test_the_real_routes_answer_in_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with ingress_client(monkeypatch, tmp_path) as client:
        execute = client.post("/execute", json={"query": "graph neural networks"})
        assert execute.status_code == 200, execute.text
        assert execute.json()["papers"]
        assert client.post("/memory/search", json={"query": "graphs"}).status_code == 200
        assert client.get("/health").json()["status"] == "ok"
        assert client.get("/capabilities").json()["limits"]["auth"] == "none"
        assert client.get("/openapi.json").json()["paths"].keys() == {
            "/execute", "/read", "/memory/search", "/health", "/capabilities",
            "/papers/{arxiv_id}",
        }  # fmt: skip
        paper = execute.json()["papers"][0]["arxiv_id"]
        stored = client.get(f"/papers/{paper}v1")  # a version suffix names the same paper
        assert stored.status_code == 200 and stored.json()["paper"]["arxiv_id"] == paper
        assert client.get("/papers/2401.99999").json()["error"] == "not_found"
        assert client.get("/papers/not-an-id").status_code == 422
        # No key on this arm: nobody may empty its memory.
        assert client.delete(f"/papers/{paper}").json()["error"] == "forbidden"
        assert "swagger-ui" in client.get("/docs").text
        assert "redoc" in client.get("/redoc").text


def test_unknown_paths_and_methods_answer_in_the_arms_shape(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with ingress_client(monkeypatch, tmp_path) as client:
        missing = client.get("/nowhere", headers={"X-Request-ID": "r-1"})
        assert missing.status_code == 404
        assert missing.json() == {"error": "not_found", "message": "Not Found", "request_id": "r-1"}
        wrong = client.get("/execute")
        assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"
        assert wrong.headers["Allow"] == "POST"


def _view(status: str, **states: int) -> DeploymentView:
    return DeploymentView(status, dict(states))


def test_stage_states() -> None:
    assert stage_health(_view("HEALTHY", RUNNING=2)).state == "ok"
    assert stage_health(_view("HEALTHY", RUNNING=2)).detail == "2/2 replicas running (healthy)"
    assert stage_health(_view("UPSCALING", RUNNING=1, STARTING=1)).state == "ok"  # scaling
    assert stage_health(_view("UNHEALTHY", RUNNING=1, STOPPING=1)).state == "degraded"
    assert stage_health(_view("UNHEALTHY", STARTING=1)).state == "down"
    assert stage_health(_view("DEPLOY_FAILED")).state == "down"


def test_health_is_the_worst_stage() -> None:
    healthy = {
        name: _view("HEALTHY", RUNNING=1)
        for name in ("Ingress", "ArxivGate", "ArxivFetcher", "Embedder", "Summarizer")
    }
    ok = health_report("arm", "1.0", {**healthy, "MemoryWriter": _view("HEALTHY", RUNNING=1)})
    assert ok.status == "ok" and set(ok.stages) >= {"arxiv_gate", "memory", "embedder"}
    degraded = health_report(
        "arm", "1.0", {**healthy, "MemoryWriter": _view("UNHEALTHY", RUNNING=1, STOPPING=1)}
    )
    assert degraded.status == "degraded" and degraded.stages["memory"].state == "degraded"
    down = health_report("arm", "1.0", {**healthy, "Embedder": _view("UNHEALTHY", STARTING=1)})
    assert down.status == "down" and down.stages["embedder"].state == "down"
    with_llm = health_report("arm", "1.0", {**healthy, "SummarizerLLM:qwen": _view("HEALTHY")})
    assert with_llm.stages["llm"].state == "down"


def test_health_reads_serve_at_most_every_few_seconds() -> None:
    reads: list[int] = []
    now = [100.0]

    def read_status() -> Any:
        reads.append(1)
        replica = {"RUNNING": 1}
        deployment = SimpleNamespace(
            status=SimpleNamespace(value="HEALTHY"), replica_states=replica
        )
        return SimpleNamespace(deployments={"Embedder": deployment})

    states = StageStates("arm", read_status, cache_s=2.0, clock=lambda: now[0])
    first = asyncio.run(states.report())
    asyncio.run(states.report())
    assert first.status == "ok" and len(reads) == 1
    now[0] += 3.0
    asyncio.run(states.report())
    assert len(reads) == 2


def test_health_without_serves_controller_is_degraded_not_a_crash() -> None:
    def unreachable() -> Any:
        raise ConnectionError("controller gone")

    report = asyncio.run(StageStates("arm", unreachable).report())
    assert report.status == "degraded" and "ConnectionError" in report.stages["ingress"].detail


def test_citation_styles_are_rendered_and_an_unknown_one_is_a_422(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with ingress_client(monkeypatch, tmp_path) as client:
        body = {"query": "graph neural networks", "max_papers": 1, "citation_style": "ieee"}
        paper = client.post("/execute", json=body).json()["papers"][0]
        assert paper["citation"].startswith("A. Lovelace,")  # IEEE: initials first
        assert paper["csl"]["author"] == [{"family": "Lovelace", "given": "Ada"}]
        assert paper["bibtex"].startswith("@misc{") and "TY  - UNPB" in paper["ris"]
        unknown = client.post("/execute", json={**body, "citation_style": "no-such-style"})
        assert unknown.status_code == 422
        assert [d["field"] for d in unknown.json()["detail"]] == ["citation_style"]
