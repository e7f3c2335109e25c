"""Search sources: the automatic choice, the index, and ``hybrid`` merging the index with the
arXiv API (the local stand-in over real HTTP) for what is newer than the index."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import pytest

from arm_dev.arxiv import SAMPLE_CORPUS, StandIn, load_records
from deployments.arxiv.client import ArxivClient
from deployments.arxiv.gate import IntervalGate
from deployments.arxiv.sources import SearchSources, merge_latest
from deployments.embedder.text_embedder import TextEmbedder
from deployments.index.paper_index import PaperIndex
from deployments.index.records import IndexRecord, read_records
from models.contracts import SearchRequest, SearchResult
from models.settings import ArxivSource

RECORDS = [r for r in read_records(SAMPLE_CORPUS) if isinstance(r, IndexRecord)]
UP_TO_MARCH = [r for r in RECORDS if r.published < date(2024, 4, 1)]  # the index is older


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn(load_records([SAMPLE_CORPUS])) as server:
        yield server


def _index(path: Path, embedder: TextEmbedder, records: list[IndexRecord]) -> PaperIndex:
    index = PaperIndex(embedder.dimension, path=str(path))
    if records:
        index.upsert(records, embedder.embed([r.embedding_text for r in records]))
    return index


class EmbeddingSources(SearchSources):
    """The sources as the Ingress calls them: every request carries its query's vector."""

    def __init__(self, embedder: TextEmbedder, *args: Any) -> None:
        super().__init__(*args)
        self.embedder = embedder

    async def search(self, request: SearchRequest) -> SearchResult:
        vector = self.embedder.embed([request.text])[0]
        return await super().search(request.with_changes(query_vector=vector))


class MakeSources(Protocol):
    def __call__(
        self, records: list[IndexRecord], source: ArxivSource | None = None
    ) -> SearchSources: ...


@pytest.fixture
async def make_sources(
    tmp_path: Path, embedder: TextEmbedder, standin: StandIn
) -> AsyncIterator[MakeSources]:
    made: list[SearchSources] = []

    def make(records: list[IndexRecord], source: ArxivSource | None = None) -> SearchSources:
        client = ArxivClient(standin.url, gate=IntervalGate(0.0), backoff_base_s=0.01)
        index = _index(tmp_path / f"index{len(made)}", embedder, records)
        sources = EmbeddingSources(embedder, client, index, source)
        made.append(sources)
        return sources

    yield make
    for sources in made:
        await sources.client.aclose()
        sources.close()


async def test_unset_source_is_the_api_until_the_index_holds_records(
    make_sources: MakeSources, standin: StandIn
) -> None:
    empty = make_sources([])
    assert await empty.effective_source() == "api"
    result = await empty.search(SearchRequest("graph neural networks", max_results=5))
    assert result.source == "api" and len(standin.requests()) >= 1
    assert set(result.found_in.values()) == {"api"} and not result.vectors

    standin.reset()
    full = make_sources(RECORDS)
    assert await full.effective_source() == "index"
    found = await full.search(SearchRequest("graph neural networks", max_results=5))
    assert standin.requests() == []  # offline: arXiv never asked
    assert found.source == "index" and found.papers[0].arxiv_id in {"2402.00003", "2402.00004"}
    assert set(found.vectors) == {p.arxiv_id for p in found.papers}
    info = await full.info()
    assert info.source == "index" and info.configured == "auto"
    assert info.index is not None
    assert info.index.records == 10 and info.index.newest == date(2024, 5, 7)


async def test_index_source_filters_by_date_and_category(make_sources: MakeSources) -> None:
    sources = make_sources(RECORDS, "index")
    march = {"start_date": date(2024, 3, 1), "end_date": date(2024, 3, 31)}
    dated = await sources.search(SearchRequest("neural networks", max_results=10, **march))
    assert dated.papers and {p.arxiv_id[:4] for p in dated.papers} == {"2403"}
    assert "published 2024-03-01..2024-03-31" in dated.query_used
    cs_ir = await sources.search(SearchRequest("retrieval", max_results=10, categories=["cs.IR"]))
    assert cs_ir.papers and all("cs.IR" in p.categories for p in cs_ir.papers)


async def test_hybrid_asks_the_api_only_for_what_is_newer_than_the_index(
    make_sources: MakeSources, standin: StandIn
) -> None:
    sources = make_sources(UP_TO_MARCH, "hybrid")
    # A range the index covers: arXiv is not asked.
    old = await sources.search(
        SearchRequest(
            "graph neural networks", start_date=date(2024, 1, 1), end_date=date(2024, 2, 28)
        )
    )
    assert standin.requests() == [] and old.papers
    # Reaching past the index's newest paper (2024-03-05): arXiv is asked from the day after.
    merged = await sources.search(SearchRequest("retrieval dense embedding", max_results=10))
    queries = [r["search_query"] for r in standin.requests()]
    assert queries and all("submittedDate:[202403060000 TO" in q for q in queries)
    assert merged.source == "hybrid"
    assert merged.found_in.get("2404.00008") == "api"  # only arXiv has it
    assert "2404.00008" not in merged.vectors  # so the Ingress embeds it
    from_index = [i for i, origin in merged.found_in.items() if origin == "index"]
    assert from_index and all(i in merged.vectors for i in from_index)
    assert len({p.arxiv_id for p in merged.papers}) == len(merged.papers)


def test_a_merge_keeps_the_latest_version_and_gives_each_side_its_turn() -> None:
    # The API is asked only for what is newer than the index, but the index's "newest" is
    # cached for a minute: a paper can come from both, and then the later version wins.
    papers = {r.arxiv_id: r.to_paper() for r in RECORDS}
    v1, other, third = papers["2404.00007"], papers["2401.00001"], papers["2405.00009"]
    v2 = v1.model_copy(update={"version": 2})
    merged, origin = merge_latest([other, v1], [v2, third], limit=10)
    assert [(p.arxiv_id, p.version) for p in merged] == [
        ("2401.00001", 1),
        ("2404.00007", 2),
        ("2405.00009", 1),
    ]
    assert origin == {"2401.00001": "index", "2404.00007": "api", "2405.00009": "api"}
    same, origin = merge_latest([v1], [v1.model_copy()], limit=10)
    assert len(same) == 1 and origin == {"2404.00007": "index"}  # a tie: the index's vector
    # An index that could fill the limit alone still leaves room for what only arXiv has.
    full = [papers[i] for i in ("2401.00001", "2401.00002", "2402.00003", "2402.00004")]
    merged, origin = merge_latest(full, [third], limit=3)
    assert [p.arxiv_id for p in merged] == ["2401.00001", "2405.00009", "2401.00002"]


async def test_categories_reach_arxiv_in_the_query_and_leave_its_cache_alone(
    make_sources: MakeSources, standin: StandIn
) -> None:
    sources = make_sources([], "api")
    quantum = await sources.search(
        SearchRequest("neural networks", max_results=10, categories=["quant-ph"])
    )
    assert quantum.papers and all("quant-ph" in p.categories for p in quantum.papers)
    assert "(cat:quant-ph)" in standin.requests()[-1]["search_query"]
    everything = await sources.search(SearchRequest("neural networks", max_results=10))
    assert len(everything.papers) > len(quantum.papers)  # not the filtered answer again


async def test_hybrid_answers_from_the_index_when_arxiv_is_down(
    make_sources: MakeSources, standin: StandIn
) -> None:
    sources = make_sources(UP_TO_MARCH, "hybrid")
    standin.set_fault("503", count=-1)
    sources.client.num_retries = 0
    result = await sources.search(SearchRequest("neural networks", max_results=5))
    assert result.papers and set(result.found_in.values()) == {"index"}
    (warning,) = result.warnings
    assert warning.code == "newer_papers_missing" and "arXiv API failed" in warning.message


async def test_a_repeated_index_search_is_answered_from_its_cache(
    make_sources: MakeSources,
) -> None:
    sources = make_sources(RECORDS, "index")
    first = await sources.search(SearchRequest("graph neural networks", max_results=5))
    first.vectors.clear()  # a caller changing its copy changes nothing cached
    again = await sources.search(SearchRequest("graph neural networks", max_results=5))
    assert again.cache_hit and not first.cache_hit
    assert [p.arxiv_id for p in again.papers] == [p.arxiv_id for p in first.papers]
    assert set(again.vectors) == {p.arxiv_id for p in again.papers}
