"""The request pipeline without Ray: every way a stage can fail after the search degrades the
answer and loses nothing that was found."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import numpy as np
import pytest

from deployments.ingress.flow.budget import RequestBudget, StageTimeout
from deployments.ingress.flow.pipeline import ResearchPipeline
from models.contracts import (
    SummarizerInfo,
)
from models.errors import ArxivUnavailable, Overloaded, StageError
from models.paper import Paper
from models.research import MemorySearchRequest, ResearchRequest
from tests.unit.ingress.stage_fakes import (
    PAPERS,
    Embedder,
    Fetcher,
    Memory,
    Summarizer,
    bag_of_words,
    paper,
)


def make(papers: list[Paper] = PAPERS, **memory: Any) -> tuple[ResearchPipeline, dict[str, Any]]:
    stages = {
        "fetcher": Fetcher(list(papers)),
        "embedder": Embedder(),
        "summarizer": Summarizer(),
        "memory": Memory(**memory),
    }
    pipeline = ResearchPipeline(
        stages["fetcher"],
        stages["embedder"],
        stages["summarizer"],
        stages["memory"],
        arm_id="test-arm",
        max_candidates=50,
    )
    return pipeline, stages


def run(pipeline: ResearchPipeline, query: str = "graph neural networks", **kw: Any) -> Any:
    """One request, as the Ingress runs it: the stages' models learned first (its start-up)."""

    async def learned_then_executed() -> Any:
        await pipeline.stage_info.learn_models(attempts=1)
        return await pipeline.execute(ResearchRequest(query=query, **kw), "rid-1")

    return asyncio.run(learned_then_executed())


def test_ranks_summarises_stores_and_says_so() -> None:
    pipeline, stages = make()
    body = run(pipeline, max_papers=2)
    assert {p.arxiv_id for p in body.papers} == {"2401.00001", "2401.00003"}  # not the galaxies
    scores = [p.relevance_score for p in body.papers]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    assert all(p.summary == f"TLDR of {p.title}." for p in body.papers)
    assert body.confidence == pytest.approx(np.mean(scores), abs=1e-3)
    assert body.provenance.request_id == "rid-1"
    assert body.provenance.models["summarizer"] == "fake:m"
    assert body.provenance.cache["stored"] == 3 and len(stages["memory"].points) == 3
    assert body.warnings == []


def test_a_failed_memory_lookup_reuses_nothing_but_answers() -> None:
    pipeline, stages = make(fail_lookup=True)
    body = run(pipeline)
    assert len(body.papers) == 3 and all(p.summary for p in body.papers)
    assert [w.code for w in body.warnings] == ["memory_lookup_failed"]
    assert "memory lookup failed" in body.warnings[0].message
    assert body.provenance.cache["embedded"] == 3  # everything embedded afresh
    assert len(stages["memory"].points) == 3  # and still remembered


def test_a_failed_memory_write_is_a_warning_not_a_failure() -> None:
    pipeline, stages = make(fail_upsert=True)
    body = run(pipeline)
    assert len(body.papers) == 3 and all(p.summary for p in body.papers)
    assert [(w.code, w.stage) for w in body.warnings] == [("memory_write_lost", "memory")]
    assert stages["memory"].points == {}


def test_a_failed_memory_write_is_kept_and_lands_when_the_store_is_back(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from deployments.ingress.durable.outbox import MemoryOutbox, drain_once

    pipeline, stages = make(fail_upsert=True)
    outbox = MemoryOutbox(tmp_path / "outbox.sqlite")
    pipeline.writes.outbox = outbox
    with caplog.at_level(logging.INFO, logger="ray.serve.arm"):
        body = run(pipeline)
    assert len(body.papers) == 3
    (deferred,) = [r for r in caplog.records if vars(r).get("event") == "memory.write.deferred"]
    assert deferred.levelno == logging.WARNING and vars(deferred)["papers"] == 3
    assert sorted(vars(deferred)["arxiv_ids"].split(",")) == sorted(p.arxiv_id for p in body.papers)
    assert vars(deferred)["reason"]
    assert [w.code for w in body.warnings] == ["memory_write_pending"]
    assert body.provenance.cache["memory_pending"] == 3 and body.provenance.cache["stored"] == 0
    assert outbox.pending() == 1 and stages["memory"].points == {}
    stages["memory"].fail_upsert = False  # the store is back
    assert asyncio.run(drain_once(outbox, stages["memory"].upsert)) == (1, 0)
    assert outbox.pending() == 0
    assert sorted(stages["memory"].points) == sorted(p.arxiv_id for p in body.papers)
    assert all(s.queries == ["graph neural networks"] for s in stages["memory"].points.values())


def test_a_summarizer_exception_nulls_that_summary_only() -> None:
    pipeline, stages = make()
    stages["summarizer"].fail_on = {"Galaxy cluster lensing"}
    body = run(pipeline)
    by_id = {p.arxiv_id: p for p in body.papers}
    assert by_id["2401.00002"].summary is None
    assert by_id["2401.00001"].summary and by_id["2401.00003"].summary
    (warning,) = body.warnings
    assert (warning.code, warning.arxiv_id) == ("summary_failed", "2401.00002")
    assert "replica died" in warning.message
    # Nothing false was remembered: the next request tries that summary again.
    stages["summarizer"].fail_on = set()
    again = run(pipeline)
    assert {p.arxiv_id: p.summary for p in again.papers}["2401.00002"]
    assert again.provenance.cache["summaries_made"] == 1


def test_a_repeat_reuses_vectors_and_summaries_from_memory() -> None:
    pipeline, stages = make()
    run(pipeline)
    embedded, summarised = len(stages["embedder"].texts), stages["summarizer"].calls
    again = run(pipeline)
    assert again.provenance.cache["memory_hits"] == 3 and again.provenance.cache["stored"] == 0
    assert len(stages["embedder"].texts) == embedded  # the query vector is cached too
    assert stages["summarizer"].calls == summarised
    assert again.provenance.sources == ["arxiv", "memory"]


def test_a_new_version_is_stored_over_the_old() -> None:
    pipeline, stages = make()
    run(pipeline)
    stages["fetcher"].papers[0] = paper("2401.00001", "Graph neural networks for molecules", 2)
    body = run(pipeline)
    assert body.provenance.cache["stored"] == 1
    stored = stages["memory"].points["2401.00001"]
    assert stored.paper.version == 2 and len(stages["memory"].points) == 3


def test_duplicate_ids_from_the_search_count_once() -> None:
    twice = [PAPERS[0], PAPERS[1], PAPERS[0], PAPERS[2]]
    pipeline, stages = make(twice)
    body = run(pipeline, max_papers=5)
    ids = [p.arxiv_id for p in body.papers]
    assert len(ids) == len(set(ids)) == 3
    assert stages["memory"].writes == 3 and body.provenance.cache["embedded"] == 3


def test_candidates_are_capped() -> None:
    many = [paper(f"2402.{i:05d}", f"Graph paper number {i}") for i in range(40)]
    pipeline, stages = make(many)
    pipeline.max_candidates = 8
    body = run(pipeline, max_papers=3)
    assert stages["fetcher"].asked == [6]  # twice max_papers
    assert len(body.papers) == 3
    # A source that answers with more than it was asked for is cut to what was asked.
    assert stages["memory"].writes == 6
    run(pipeline, query="graph papers", max_papers=20)
    assert stages["fetcher"].asked[-1] == 8  # never more than max_candidates


def test_models_unknown_while_a_stage_restarts_is_no_failure() -> None:
    pipeline, stages = make()

    async def restarting() -> SummarizerInfo:
        raise StageError("replica restarting", "summarizer")

    stages["summarizer"].info = restarting
    body = run(pipeline)
    assert len(body.papers) == 3 and "summarizer" not in body.provenance.models
    del stages["summarizer"].info  # back: the Ingress's next try learns the models
    assert run(pipeline).provenance.models["summarizer"] == "fake:m"


def test_without_vectors_nothing_can_be_ranked_so_the_request_fails() -> None:
    pipeline, stages = make()

    async def down(texts: list[str]) -> np.ndarray:
        raise StageError("embedder down", "embedder")

    stages["embedder"].embed = down
    with pytest.raises(StageError, match="embedder down"):
        run(pipeline)
    assert stages["memory"].writes == 0


def test_a_search_error_fails_the_request_and_nothing_else_runs() -> None:
    pipeline, stages = make()
    stages["fetcher"].error = ArxivUnavailable("arXiv down", 12.0, status=503, attempts=2)
    with pytest.raises(ArxivUnavailable) as info:
        run(pipeline)
    assert info.value.retry_after_s == 12.0 and info.value.attempts == 2
    assert stages["summarizer"].calls == 0 and stages["memory"].writes == 0


def test_no_candidates_is_an_empty_answer_with_zero_confidence() -> None:
    pipeline, _ = make([])
    body = run(pipeline)
    assert body.papers == [] and body.confidence == 0.0 and body.total_found == 0


def test_memory_search_ranks_what_was_stored() -> None:
    pipeline, _ = make()
    run(pipeline)
    found = asyncio.run(pipeline.memory_search(MemorySearchRequest(query="galaxy lensing")))
    assert found.count == 3 and found.papers[0].arxiv_id == "2401.00002"
    scores = [p.relevance_score for p in found.papers]
    assert scores[0] > 0 and scores[-1] == 0.0  # a negative similarity is no relevance, not < 0


def test_from_the_index_only_the_query_is_embedded_once_and_handed_over() -> None:
    pipeline, stages = make()
    stages["fetcher"].source = "index"
    body = run(pipeline, max_papers=2)
    assert stages["embedder"].texts == ["graph neural networks"]  # no paper, no second call
    (given,) = stages["fetcher"].given_vectors
    assert given is not None and np.allclose(given, bag_of_words("graph neural networks"))
    assert body.provenance.sources == ["index"] and body.provenance.cache["embedded"] == 0
    assert set(body.provenance.found_in.values()) == {"index"}
    # The ingest's summaries: none made, and memory keeps them (its search shows them too).
    assert body.provenance.cache["summaries_made"] == 0
    assert all(p.summary == f"Stored TLDR of {p.title}." for p in body.papers)
    stored = stages["memory"].points
    assert all(stored[p.arxiv_id].summary == p.summary for p in body.papers)


def test_from_the_api_the_query_vector_is_sent_and_papers_embedded_after() -> None:
    pipeline, stages = make()
    run(pipeline, max_papers=2)
    (given,) = stages["fetcher"].given_vectors  # nothing asks which source the fetcher uses
    assert given is not None and np.allclose(given, bag_of_words("graph neural networks"))
    assert stages["embedder"].texts[0] == "graph neural networks"
    assert len(stages["embedder"].texts) == 1 + len(PAPERS)


def test_with_the_api_source_configured_the_search_runs_while_the_query_is_embedded() -> None:
    pipeline, stages = make()
    pipeline.search_needs_no_vector = True  # what ARXIV_SOURCE=api gives the Ingress
    order: list[str] = []
    embed, search = stages["embedder"].embed, stages["fetcher"].search

    async def slow_embed(texts: list[str]) -> np.ndarray:
        await asyncio.sleep(0.05)
        order.append(f"embedded {len(texts)}")
        return await embed(texts)

    async def recorded_search(request: Any) -> Any:
        order.append("searched")
        return await search(request)

    stages["embedder"].embed, stages["fetcher"].search = slow_embed, recorded_search
    body = run(pipeline, max_papers=2)
    assert order[:2] == ["searched", "embedded 1"]  # the search did not wait for the query
    assert stages["fetcher"].given_vectors == [None]
    assert [p.relevance_score > 0 for p in body.papers] == [True, True]  # ranked all the same


# A stage that hangs (a stopped replica) against a 4 s deadline: each call is given up on
# after its share of it (flow/budget.py's STAGE_SHARES), and treated as that stage failing.
DEADLINE_S = 4.0


def _hang_after(seconds: float | None) -> Any:
    async def stage_call(*args: Any, **kwargs: Any) -> Any:
        if seconds is None:
            await asyncio.Event().wait()  # never answers
        await asyncio.sleep(seconds or 0.0)
        raise AssertionError("the stand-in for a slow stage has no answer to give")

    return stage_call


def _timed(pipeline: ResearchPipeline, **kw: Any) -> tuple[Any, float]:
    began = time.monotonic()
    try:
        return run(pipeline, **kw), time.monotonic() - began
    except Exception as exc:
        return exc, time.monotonic() - began


def test_a_hung_summarizer_degrades_every_summary_within_its_share() -> None:
    pipeline, stages = make()
    pipeline.budget = RequestBudget(DEADLINE_S)
    stages["summarizer"].summarize = _hang_after(None)
    body, took = _timed(pipeline, max_papers=2)
    assert took < DEADLINE_S and [p.summary for p in body.papers] == [None, None]
    codes = {(w.code, w.arxiv_id) for w in body.warnings}
    assert codes == {("summary_timed_out", p.arxiv_id) for p in body.papers}
    assert stages["memory"].points  # the answer's papers are remembered all the same


def test_a_hung_memory_lookup_is_a_warning_not_a_wait() -> None:
    pipeline, stages = make()
    pipeline.budget = RequestBudget(DEADLINE_S)
    stages["memory"].lookup = _hang_after(None)
    body, took = _timed(pipeline, max_papers=2)
    assert took < DEADLINE_S and len(body.papers) == 2
    (warning,) = body.warnings
    assert warning.code == "memory_lookup_failed" and "no answer" in warning.message


@pytest.mark.parametrize(("stage", "method"), [("embedder", "embed"), ("fetcher", "search")])
def test_a_hung_stage_the_answer_needs_fails_fast_as_that_stage(stage: str, method: str) -> None:
    pipeline, stages = make()
    pipeline.budget = RequestBudget(DEADLINE_S)
    setattr(stages[stage], method, _hang_after(None))
    error, took = _timed(pipeline)
    assert isinstance(error, StageTimeout) and took < DEADLINE_S
    assert error.stage == {"embedder": "embedder", "fetcher": "arxiv"}[stage]


def test_the_deadline_bounds_stages_each_slow_within_its_share() -> None:
    """No single call overruns its share, yet together they pass the deadline: a 503
    Overloaded with a Retry-After, at the deadline."""
    pipeline, stages = make()
    pipeline.budget = RequestBudget(2.0)  # shares: search 1.8 s, embed 0.8, lookup 0.2, ...
    stages["fetcher"].search = _slow(stages["fetcher"].search, 1.0)
    stages["embedder"].embed = _slow(stages["embedder"].embed, 0.3)  # twice: query, papers
    stages["memory"].lookup = _slow(stages["memory"].lookup, 0.1)
    stages["summarizer"].summarize = _slow(stages["summarizer"].summarize, 0.5)  # of 0.7
    error, took = _timed(pipeline)  # 1.0 + 0.3 + 0.1 + 0.3 + 0.5 = 2.2 s of work
    assert isinstance(error, Overloaded) and error.retry_after_s == 1.0
    assert 2.0 <= took < 2.2


def _slow(call: Any, seconds: float) -> Any:
    async def slowed(*args: Any) -> Any:
        await asyncio.sleep(seconds)
        return await call(*args)

    return slowed
