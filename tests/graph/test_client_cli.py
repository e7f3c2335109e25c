"""The client distribution against the real graph: ArmClient's typed calls, and the ``arm``
command line in a process of its own, as an orchestrator's author would use them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from arm_client import ArmApiError, ArmClient, NotFoundError
from arm_client.models import ResearchResponse
from tests.graph.conftest import App

QUERY = "graph neural networks"


def _arm(app: App, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "arm_client.cli", "--url", app.url, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_the_client_calls_every_endpoint(main_app: App) -> None:
    with ArmClient(main_app.url, timeout=120.0) as client:
        answer = client.execute(QUERY, max_papers=3)
        assert 1 <= len(answer.papers) <= 3
        assert answer.provenance.request_id
        assert all(p.bibtex.startswith("@misc{") for p in answer.papers)

        assert client.health().status in {"ok", "degraded"}
        manifest = client.capabilities()
        assert manifest.limits.max_papers >= 3

        found = client.search_memory(QUERY, limit=5)
        assert found.count == len(found.papers) >= 1
        assert {p.arxiv_id for p in answer.papers} & {p.arxiv_id for p in found.papers}


def test_a_paper_is_fetched_forgotten_and_gone(main_app: App, llm_app: App) -> None:
    with ArmClient(main_app.url, timeout=120.0) as client:
        answer = client.execute(QUERY, max_papers=3)
        arxiv_id = answer.papers[-1].arxiv_id
        record = client.get_paper(arxiv_id)
        assert record.paper.arxiv_id == arxiv_id and record.queries
        # An arm without ARM_API_KEY lets nobody empty its memory.
        with pytest.raises(ArmApiError) as refused:
            client.forget_paper(arxiv_id)
        assert refused.value.status == 403 and refused.value.error == "forbidden"

    # The application with a key (test-key-123): its operator may forget a paper.
    with ArmClient(llm_app.url, api_key="test-key-123", timeout=120.0) as client:
        answer = client.execute(QUERY, max_papers=3)
        arxiv_id = answer.papers[-1].arxiv_id
        assert client.get_paper(arxiv_id).paper.arxiv_id == arxiv_id
        client.forget_paper(arxiv_id)
        with pytest.raises(NotFoundError) as caught:
            client.get_paper(arxiv_id)
        assert caught.value.status == 404 and caught.value.request_id
        assert caught.value.request_id in str(caught.value)
        # Put it back, so that the tier's later tests find memory as they would have.
        client.execute(QUERY, max_papers=3)
        assert client.get_paper(arxiv_id).paper.arxiv_id == arxiv_id


def test_the_command_line(main_app: App) -> None:
    done = _arm(main_app, "search", QUERY, "--max", "2", "--format", "json")
    assert done.returncode == 0, done.stderr
    answer = ResearchResponse.model_validate_json(done.stdout)
    assert 1 <= len(answer.papers) <= 2

    done = _arm(main_app, "search", QUERY, "--max", "2", "--format", "bibtex")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("@misc{") == len(answer.papers)

    done = _arm(main_app, "search", QUERY, "--max", "2", "--format", "csl")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == len(answer.papers)

    done = _arm(main_app, "search", QUERY, "--max", "2")
    assert done.returncode == 0, done.stderr
    assert answer.papers[0].arxiv_id in done.stdout

    done = _arm(main_app, "health")
    assert done.returncode == 0, done.stderr + done.stdout

    done = _arm(main_app, "paper", "2401.99999")
    assert done.returncode == 1 and "not_found" in done.stderr and "request id" in done.stderr

    done = _arm(main_app, "search", "ab")
    assert done.returncode == 2
