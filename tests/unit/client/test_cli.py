"""The ``arm`` command line against a mock arm: each command and format, and the exit codes."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest

from arm_client import ArmClient
from arm_client.cli import main
from arm_client.models import (
    ArmWarning,
    HealthStatus,
    MemorySearchResponse,
    PaperRecord,
    ResearchResponse,
)
from tests.unit.client.fakes import HEALTH, PAPERS, Arm, FakeTime, client, error, ok
from tests.unit.client.fakes import research_response as answer


def run(arm: Arm, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv, client_factory=partial(_client, arm, FakeTime()))
    out, err = capsys.readouterr()
    return code, out, err


def _client(arm: Arm, time: FakeTime, base_url: str | None, **kw: Any) -> ArmClient:
    """The CLI's client on a mock arm and a fake clock (the URL is the mock's)."""
    return client(arm, time, **kw)


def test_search_as_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    failed = ArmWarning(
        code="summary_failed", stage="summarizer", message="summary failed", arxiv_id="2402.00004"
    )
    arm = Arm([ok(answer(warnings=[failed]))])
    code, out, err = run(
        arm,
        [
            "search",
            "graph neural networks",
            "--max",
            "2",
            "--from",
            "2023-01-01",
            "--category",
            "cs.LG",
            "--category",
            "stat.ML",
            "--no-summaries",
            "--style",
            "ieee",
        ],
        capsys,
    )
    assert code == 0 and err == ""
    assert json.loads(arm.requests[0].content) == {
        "query": "graph neural networks",
        "max_papers": 2,
        "start_date": "2023-01-01",
        "include_summaries": False,
        "citation_style": "ieee",
        "categories": ["cs.LG", "stat.ML"],
        "include_evidence": False,
        "evidence_per_paper": 3,
    }
    lines = out.splitlines()
    assert lines[0].split() == ["#", "rel.", "arXiv", "id", "year", "title"]
    assert lines[1].split()[:4] == ["1", "0.91", "2402.00003", "2024"]
    assert lines[1].endswith("…") and len(lines[1]) <= 100
    assert lines[2].startswith(" " * 8 + "Message passing predicts")
    assert all(len(line) <= 100 for line in lines)
    row = next(line for line in lines if "hep-ex/0406020" in line)
    assert row.split()[:3] == ["2", "0.50", "hep-ex/0406020"]
    assert "2 of 7 found, confidence 0.70" in out and "request id rid-ok" in out
    assert "warning: summary_failed 2402.00004: summary failed" in out


@pytest.mark.parametrize("fmt", ["json", "bibtex", "ris", "csl"])
def test_search_in_each_format(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(Arm([ok(answer())]), ["search", "graphs", "--format", fmt], capsys)
    assert code == 0
    if fmt == "json":
        assert ResearchResponse.model_validate_json(out).papers == PAPERS
    elif fmt == "bibtex":
        assert out.count("@misc{") == 2 and "\n\n@misc{arxivhep-ex_0406020," in out
    elif fmt == "ris":
        assert out.count("ER  - ") == 2
    else:
        assert [i["number"] for i in json.loads(out)] == ["2402.00003", "hep-ex/0406020"]


def test_memory_as_a_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    body = {"papers": answer()["papers"], "count": 2}
    code, out, _ = run(Arm([ok(body)]), ["memory", "graphs", "--limit", "2"], capsys)
    assert code == 0 and "2402.00003" in out and "hep-ex/0406020" in out
    arm = Arm([ok(body)])
    code, out, _ = run(arm, ["memory", "graphs", "--format", "json"], capsys)
    assert MemorySearchResponse.model_validate_json(out).count == 2
    assert json.loads(arm.requests[0].content) == {
        "query": "graphs",
        "limit": 10,
        "scope": "papers",
    }
    code, out, _ = run(Arm([ok({"papers": [], "count": 0})]), ["memory", "nothing here"], capsys)
    assert code == 0 and out == "nothing in memory matches\n"


@pytest.mark.parametrize("fmt", ["json", "bibtex", "ris", "csl"])
def test_paper_in_each_format(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    record = {
        "paper": answer()["papers"][1],
        "summary": None,
        "queries": ["q"],
        "stored_at": "2024-02-01T00:00:00Z",
    }
    arm = Arm([ok(record)])
    code, out, _ = run(arm, ["paper", "hep-ex/0406020", "--format", fmt], capsys)
    assert code == 0 and arm.requests[0].url.path == "/main/papers/hep-ex/0406020"
    expected = {
        "json": lambda: PaperRecord.model_validate_json(out).paper == PAPERS[1],
        "bibtex": lambda: out == PAPERS[1].bibtex + "\n",
        "ris": lambda: out == PAPERS[1].ris,
        "csl": lambda: json.loads(out) == [PAPERS[1].csl],
    }
    assert expected[fmt]()


def test_forget(capsys: pytest.CaptureFixture[str]) -> None:
    arm = Arm([ok(None, status=204)])
    code, out, _ = run(arm, ["--api-key", "k", "forget", "2402.00003"], capsys)
    assert code == 0 and out == "forgotten: 2402.00003\n"
    assert arm.requests[0].method == "DELETE"
    assert arm.requests[0].headers["Authorization"] == "Bearer k"


def test_health_table_json_and_a_down_arm(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(Arm([ok(HEALTH)]), ["health"], capsys)
    assert code == 0
    assert out.splitlines()[0] == "ok  research-arm 0.3.0"
    assert "embedder" in out and "1/1 replicas" in out and "1050 records" in out
    code, out, _ = run(Arm([ok(HEALTH)]), ["health", "--format", "json"], capsys)
    assert code == 0 and HealthStatus.model_validate_json(out).status == "ok"
    down = ok({**HEALTH, "status": "down"}, status=503)
    code, out, _ = run(Arm([down]), ["health"], capsys)
    assert code == 1 and out.startswith("down")


def test_an_api_error_exits_1_with_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    arm = Arm([error(404, "not_found", "2401.99999 is not in memory", rid="rid-gone")])
    code, out, err = run(arm, ["paper", "2401.99999"], capsys)
    assert code == 1 and out == ""
    assert "not_found" in err and "2401.99999 is not in memory" in err and "rid-gone" in err


def test_a_503_is_retried_then_reported(capsys: pytest.CaptureFixture[str]) -> None:
    busy = error(
        503, "arxiv_unavailable", "arXiv is down", rid="rid-503", headers={"Retry-After": "20"}
    )
    arm = Arm([busy])
    code, _, err = run(arm, ["--retry-budget", "30", "search", "graphs"], capsys)
    assert code == 1 and "rid-503" in err and "arxiv_unavailable" in err
    assert len(arm.requests) == 2  # once after 20 s; the 10 s then left are less than 20


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    arm = Arm([ok(answer())])
    for argv in (
        [],
        ["search"],
        ["search", "graphs", "--format", "xml"],
        ["memory", "graphs", "--format", "bibtex"],
        ["search", "graphs", "--max", "many"],
    ):
        with pytest.raises(SystemExit) as caught:
            main(argv, client_factory=partial(_client, arm, FakeTime()))
        assert caught.value.code == 2
    code, _, err = run(arm, ["search", "ab"], capsys)
    assert code == 2 and "query" in err
    code, _, err = run(arm, ["search", "graphs", "--from", "2024-13-01"], capsys)
    assert code == 2 and "start_date" in err
    assert arm.requests == []


def test_the_url_and_key_reach_the_client(capsys: pytest.CaptureFixture[str]) -> None:
    seen: dict[str, Any] = {}

    def factory(base_url: str | None, **kw: Any) -> ArmClient:
        seen.update(base_url=base_url, **kw)
        return client(Arm([ok(HEALTH)]))

    assert (
        main(
            ["--url", "http://x:1", "--api-key", "k", "--timeout", "5", "health"],
            client_factory=factory,
        )
        == 0
    )
    assert seen == {
        "base_url": "http://x:1",
        "api_key": "k",
        "timeout": 5.0,
        "retry_budget_s": 60.0,
    }
