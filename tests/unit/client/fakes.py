"""Stand-ins for the client's tests: answers as the arm gives them, a recording mock transport,
and a fake clock whose sleep only moves time."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from arm_client import ArmClient, AsyncArmClient
from arm_client.models import ArmWarning, Paper, Provenance, ResearchResponse

URL = "http://arm.test/main"


def paper(
    arxiv_id: str, title: str, *, relevance: float = 0.8, summary: str | None = None
) -> Paper:
    key = "arxiv" + arxiv_id.replace(".", "_").replace("/", "_")
    return Paper(
        title=title,
        authors=["Emma Rossi", "LHCb Collaboration"],
        abstract="An abstract.",
        url=f"https://arxiv.org/abs/{arxiv_id}",
        published_date=date(2024, 2, 1),
        summary=summary,
        relevance_score=relevance,
        citation=f"Rossi, E., & LHCb Collaboration. (2024). {title}.",
        arxiv_id=arxiv_id,
        bibtex=(
            f"@misc{{{key},\n  title = {{{title}}},\n  author = {{Rossi, Emma and "
            f"{{LHCb Collaboration}}}},\n  year = {{2024}},\n  eprint = {{{arxiv_id}}}\n}}"
        ),
        ris=f"TY  - PREPRINT\nTI  - {title}\nAU  - Rossi, Emma\nPY  - 2024\nER  - \n",
        csl={"id": key, "type": "article", "title": title, "number": arxiv_id},
    )


PAPERS = [
    paper(
        "2402.00003",
        "Graph Neural Networks for Molecular Property Prediction with $B^0_s \\to \\mu^+\\mu^-$ "
        "and a title long enough to be cut in a table",
        relevance=0.91,
        summary="Message passing predicts molecular properties well. " * 4,
    ),
    paper("hep-ex/0406020", "A Measurement of Something", relevance=0.5),
]


def research_response(
    papers: list[Paper] | None = None, warnings: list[ArmWarning] | None = None
) -> dict:
    papers = PAPERS if papers is None else papers
    answer = ResearchResponse(
        papers=papers,
        total_found=7,
        query_used="all:graph AND all:neural",
        search_time_ms=1234.5,
        confidence=0.7,
        provenance=Provenance(
            arm_id="research-arm",
            request_id="rid-ok",
            sources=["arxiv"],
            method="cosine",
            models={"embedder": "all-MiniLM-L6-v2"},
        ),
        warnings=warnings or [],
    )
    return json.loads(answer.model_dump_json())


HEALTH = {
    "status": "ok",
    "arm_id": "research-arm",
    "version": "0.3.0",
    "stages": {"embedder": {"state": "ok", "detail": "1/1 replicas"}},
    "search": {"source": "index", "configured": "auto", "index": {"records": 1050, "newest": None}},
}


def error(status: int, kind: str, message: str, rid: str = "rid-1", **extra: Any) -> httpx.Response:
    headers = {"X-Request-ID": rid, **extra.pop("headers", {})}
    body = {"error": kind, "message": message, "request_id": rid, **extra}
    return httpx.Response(status, json=body, headers=headers)


@dataclass
class Arm:
    """A mock arm: answers from a queue of responses (or a handler), records every request."""

    answers: list[httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]] = field(
        default_factory=list
    )
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


@dataclass
class FakeTime:
    """A monotonic clock that only moves when the client sleeps (or a request takes time)."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def client(arm: Arm, time: FakeTime | None = None, **kw: Any) -> ArmClient:
    time = time or FakeTime()
    return ArmClient(
        URL, transport=httpx.MockTransport(arm), sleep=time.sleep, clock=time.clock, **kw
    )


def async_client(arm: Arm, time: FakeTime | None = None, **kw: Any) -> AsyncArmClient:
    time = time or FakeTime()

    async def handler(request: httpx.Request) -> httpx.Response:
        return arm(request)

    return AsyncArmClient(
        URL, transport=httpx.MockTransport(handler), sleep=time.asleep, clock=time.clock, **kw
    )


def ok(body: Any, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"X-Request-ID": "rid-ok", **headers})


def ids(papers: Iterable[Paper]) -> list[str]:
    return [p.arxiv_id for p in papers]
