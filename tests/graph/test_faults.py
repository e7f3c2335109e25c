"""Replica faults under load, injected from outside: a replica process of a stage (MemoryWriter,
Embedder, Summarizer, the Ingress itself) is SIGKILLed, or frozen with SIGSTOP for 40 s, while
requests run. Serve restarts it;
every request ends in bounded time, answered or with a clear error; and every paper of every
answered request is in memory afterwards, once, with the query that found it (the Ingress's
outbox keeps the writes the MemoryWriter could not take).

Each test prints a line with what the requests saw and how long the stage took to come back.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
import pytest

from arm_dev.faults import (
    frozen_replica,
    kill_replica,
    missing_from_memory,
    serving,
    wait_until_back,
)
from models.contracts import MemoryQuery
from tests.graph.conftest import App, deploy

QUERIES = [
    "surface code decoding neural networks",
    "exoplanet transmission spectroscopy",
    "graph neural networks molecules",
    "dark matter halo simulations",
    "quantum error correction thresholds",
    "galaxy cluster weak lensing",
    "transformer language models",
    "neutrino oscillation experiments",
]
REQUEST_TIMEOUT_S = 120.0  # a request that takes longer than this hangs, as far as a test goes


@pytest.fixture(scope="module")
def faults_app(serve_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    # Admission at 16 in flight (the tier's Ingress takes 64): a burst meets the arm's bound.
    # Memory writes time out after 2 s (10 by default): shorter than the MemoryWriter's restart,
    # so the writes that meet the killed replica always take the outbox's path.
    app = deploy(
        "faults",
        serve_url,
        tmp_path_factory.mktemp("faults"),
        max_in_flight=16,
        memory_write_timeout_s=2.0,
    )
    yield app
    app.arxiv.__exit__()


def _ask(app: App, query: str) -> dict[str, Any]:
    """One cold request (3 papers) and what it saw: status, body, Retry-After, and when it
    began and ended (monotonic seconds; ``s`` its duration)."""
    began = time.monotonic()
    with httpx.Client(base_url=app.url, timeout=REQUEST_TIMEOUT_S) as client:
        response = client.post("/execute", json={"query": query, "max_papers": 3})
    ended = time.monotonic()
    return {
        "query": query,
        "status": response.status_code,
        "body": response.json(),
        "retry_after": response.headers.get("retry-after"),
        "began": began,
        "ended": ended,
        "s": ended - began,
    }


def _load_with_a_kill(app: App, deployment: str, rounds: int = 3) -> dict[str, Any]:
    """``rounds`` x len(QUERIES) distinct requests at concurrency 8; the deployment's replica
    killed once the first few were answered. What the requests saw and when it was back."""
    # Queries of its own (cold: every stage works for them), distinct from other tests'.
    queries = [f"{q} {deployment.lower()} {r}" for r in range(rounds) for q in QUERIES]
    results: list[dict[str, Any]] = []
    ask = functools.partial(_ask, app)

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(ask, q) for q in queries]
        while sum(f.done() for f in futures) < 4:
            time.sleep(0.05)
        pid = kill_replica(app.name, deployment)
        killed = time.monotonic()
        print(f"\nkilled {deployment} pid {pid} after {sum(f.done() for f in futures)} answers")
        results = [f.result() for f in futures]
    back_s = wait_until_back(app.name, deployment, pid) + (time.monotonic() - killed)
    served = [r for r in results if r["status"] == 200]
    failed = [r for r in results if r["status"] != 200]
    print(
        f"\n{deployment} killed under load: {len(served)} served, {len(failed)} failed "
        f"({sorted({r['status'] for r in failed})}), slowest {max(r['s'] for r in results):.1f} s, "
        f"back in {back_s:.1f} s"
    )
    # In flight when the replica died: begun before the kill, answered after it.
    met = [r for r in results if r["began"] < killed < r["began"] + r["s"]]
    return {"served": served, "failed": failed, "back_s": back_s, "met": met}


def _assert_remembered(app: App, outcome: dict[str, Any], within_s: float = 120) -> None:
    """Every paper of every answered request in memory, once, with the query that found it."""
    served = outcome["served"]
    answered = [(r["query"], [p["arxiv_id"] for p in r["body"]["papers"]]) for r in served]
    memory = app.handle("MemoryWriter")
    deadline = time.monotonic() + within_s
    while True:
        missing, _ = missing_from_memory(memory, answered)
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(1.0)  # the outbox drains on its own
    assert not missing, f"{len(missing)} never reached memory: {sorted(missing)[:5]}"
    # Once: every point memory holds is a different paper (a paper written twice, by a retry
    # or by the outbox, would show twice). Read back whole, ranked against any unit vector.
    total = memory.count.remote().result()
    dimension = memory.info.remote().result().dimension
    probe = np.full(dimension, dimension**-0.5, dtype=np.float32)
    everything = memory.search.remote(MemoryQuery(probe, limit=total + 10)).result()
    held = [stored.paper.arxiv_id for stored in everything]
    assert len(held) == total and len(set(held)) == total, "a paper is stored twice"


def test_memory_writer_killed_under_load_loses_no_write(faults_app: App) -> None:
    outcome = _load_with_a_kill(faults_app, "MemoryWriter")
    kept = 0
    for result in outcome["served"]:
        pending = result["body"]["provenance"]["cache"].get("memory_pending", 0)
        warnings = result["body"]["warnings"]
        warned = [w for w in warnings if w["code"] == "memory_write_pending"]
        assert bool(pending) == bool(warned)
        kept += bool(pending)
    print(f"{kept} answers said their memory write was pending")
    assert kept, "no write met the dead MemoryWriter: the kill came too late to test anything"
    assert not outcome["failed"], outcome["failed"][:2]  # memory is never what fails a request
    _assert_remembered(faults_app, outcome)


@pytest.mark.parametrize("deployment", ["Embedder", "Summarizer", "Ingress"])
def test_a_stage_killed_under_load(faults_app: App, deployment: str) -> None:
    outcome = _load_with_a_kill(faults_app, deployment)
    # A kill that no request was in flight for tested nothing. Those that were are answered
    # (an Embedder kill often fails none: their calls wait for the replica that replaces it)
    # or fail as below; the Ingress's own requests die with it, so some must fail there.
    assert outcome["met"], f"no request was in flight when {deployment} was killed"
    if deployment == "Ingress":
        assert outcome["failed"], "requests in flight on a killed Ingress cannot be answered"
    # A clear error in the arm's shape, never a 500: from the Ingress for a stage behind it,
    # from Serve's proxy (deployments/proxy/error_shape.py) for the Ingress itself.
    for result in outcome["failed"]:
        assert result["status"] == 503 and result["retry_after"], result
        assert result["body"]["error"] == "stage_unavailable", result["body"]
        assert result["s"] < 30, result  # failed fast, not after waiting out the restart
    assert outcome["served"]
    if deployment == "Summarizer":  # summaries degrade to null with a warning; nothing fails
        assert not outcome["failed"]
    _assert_remembered(faults_app, outcome)


STALL_S = 40.0  # how long a frozen stage stays frozen
ANSWER_WITHIN_S = 30.0  # the longest any request may wait on it


# The Embedder last: the calls queued on it while frozen are still draining after it resumes.
@pytest.mark.parametrize("deployment", ["Summarizer", "MemoryWriter", "Embedder"])
def test_a_frozen_stage_never_hangs_a_request(faults_app: App, deployment: str) -> None:
    """A stage's replica SIGSTOPped for 40 s under load: every request that meets it is
    answered (degraded) or refused (a shaped 503) within 30 s, nothing answered is lost, and
    the stage serves again once resumed (or replaced by Serve's health check)."""
    queries = [f"{q} frozen {deployment.lower()} {r}" for r in range(2) for q in QUERIES]
    # The stand-in's few papers are all in memory by now, summaries and all: forgotten, so
    # that these requests need the Summarizer (and the MemoryWriter's writes) again.
    memory = faults_app.handle("MemoryWriter")
    memory.delete.remote(sorted(faults_app.arxiv.by_id)).result()
    ask = functools.partial(_ask, faults_app)

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(ask, q) for q in queries]
        while sum(f.done() for f in futures) < 2:
            time.sleep(0.05)
        with frozen_replica(faults_app.name, deployment) as pid:
            frozen_at = time.monotonic()
            print(f"\nfroze {deployment} pid {pid} after {sum(f.done() for f in futures)} answers")
            time.sleep(STALL_S)
        results = [f.result() for f in futures]
    waits = [r["ended"] - max(r["began"], frozen_at) for r in results if r["ended"] > frozen_at]
    statuses = Counter(r["status"] for r in results)
    print(f"{deployment} frozen {STALL_S:g} s: {dict(statuses)}, longest wait {max(waits):.1f} s")
    assert waits, "every request ended before the freeze: it tested nothing"
    assert max(waits) <= ANSWER_WITHIN_S
    for result in results:
        assert result["status"] in (200, 503), result
        if result["status"] == 503:  # refused in the arm's shape: a stage past its share
            assert result["retry_after"], result
            assert result["body"]["error"] == "stage_unavailable", result["body"]
    served = [r for r in results if r["status"] == 200]
    assert served
    # The freeze met requests: each stage's way of failing shows in what they got.
    met = {
        "Embedder": [r for r in results if r["status"] == 503],
        "Summarizer": [r for r in served if _warned(r, "summary_timed_out")],
        "MemoryWriter": [r for r in served if _warned(r, "memory_lookup_failed")],
    }[deployment]
    assert met, f"no request met the frozen {deployment}"
    _assert_remembered(faults_app, {"served": served})
    deadline = time.monotonic() + 180
    while not serving(faults_app.name, deployment) and time.monotonic() < deadline:
        time.sleep(1.0)
    again = faults_app.client.post(
        "/execute", json={"query": f"after the freeze {deployment.lower()}", "max_papers": 3}
    )
    assert again.status_code == 200, again.text
    assert not [w for w in again.json()["warnings"] if w["code"].startswith(("summary", "memory"))]


def _warned(result: dict[str, Any], code: str) -> bool:
    return any(w["code"] == code for w in result["body"]["warnings"])


def test_a_burst_of_128_is_answered_in_bounded_time(faults_app: App) -> None:
    """128 requests at once: the ones over the bound get a fast 503 in the arm's shape with
    Retry-After, the rest are served; none waits without an answer."""

    def ask(n: int) -> tuple[int, dict[str, Any], str | None, float]:
        began = time.monotonic()
        with httpx.Client(base_url=faults_app.url, timeout=REQUEST_TIMEOUT_S) as client:
            response = client.post("/execute", json={"query": f"burst {QUERIES[n % 8]} {n}"})
        return (
            response.status_code,
            response.json(),
            response.headers.get("retry-after"),
            time.monotonic() - began,
        )

    with ThreadPoolExecutor(128) as pool:
        answers = list(pool.map(ask, range(128)))
    statuses = Counter(status for status, *_ in answers)
    refused = [(body, retry, s) for status, body, retry, s in answers if status == 503]
    print(f"\nburst of 128: {dict(statuses)}, slowest {max(a[3] for a in answers):.1f} s")
    assert set(statuses) <= {200, 503} and statuses[200] >= 16 and refused
    for body, retry, seconds in refused:
        assert body["error"] == "overloaded" and body["request_id"] and retry
        assert seconds < 10  # refused at once, not after a wait
