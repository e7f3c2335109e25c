"""The local index on a real embedded Qdrant with the real MiniLM: what a search finds, under
which filters, and what a newer or older version does to a stored paper."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from arm_dev.arxiv import SAMPLE_CORPUS
from deployments.embedder.text_embedder import TextEmbedder
from deployments.index.lexical import LexicalEncoder, term_id
from deployments.index.paper_index import IndexLocked, PaperIndex
from deployments.index.records import IndexRecord, read_records
from deployments.index.schema import SEGMENT_RECORDS
from models.contracts import SearchRequest
from models.paper import point_id

RECORDS = [r for r in read_records(SAMPLE_CORPUS) if isinstance(r, IndexRecord)]


@pytest.fixture
def index(tmp_path: Path, embedder: TextEmbedder) -> Iterator[PaperIndex]:
    paper_index = PaperIndex(embedder.dimension, path=str(tmp_path / "index"))
    vectors = embedder.embed([r.embedding_text for r in RECORDS])
    assert paper_index.upsert(RECORDS, vectors, ["a stored summary"] * len(RECORDS)) == 10
    yield paper_index
    paper_index.close()


def _search(index: PaperIndex, embedder: TextEmbedder, text: str, **kw: Any) -> list[str]:
    vector = embedder.embed([text])[0]
    hits = index.search(SearchRequest(text, max_results=3, query_vector=vector, **kw))
    return [h.paper.arxiv_id for h in hits]


def test_stems_meet_and_stopwords_go() -> None:
    lexical = LexicalEncoder()
    assert lexical.terms("The Networks were trained") == lexical.terms("network training")
    query = lexical.query("graph networks of graphs")
    assert query.indices == sorted({term_id("graph"), term_id("network")})
    doc = lexical.document("graph graph network")
    weights = dict(zip(doc.indices, doc.values, strict=True))
    assert weights[term_id("graph")] > weights[term_id("network")] > 0  # saturating tf


def test_search_finds_by_meaning_and_by_words(index: PaperIndex, embedder: TextEmbedder) -> None:
    # Words: an exact rare term of one abstract.
    assert _search(index, embedder, "bosonic codes")[0] == "2403.00006"
    # Meaning, few shared words: "exoplanet air" ~ "Exoplanet Atmospheres ... Spectroscopy".
    assert (
        _search(index, embedder, "what the air of planets around other stars is made of")[0]
        == "2405.00010"
    )


def test_hits_carry_vector_summary_and_citation(index: PaperIndex, embedder: TextEmbedder) -> None:
    vector = embedder.embed(["weak lensing"])[0]
    (hit,) = index.search(SearchRequest("weak lensing", max_results=1, query_vector=vector))
    assert hit.paper.arxiv_id == "2405.00009" and hit.summary == "a stored summary"
    assert hit.vector.shape == (embedder.dimension,)
    assert np.isclose(np.linalg.norm(hit.vector), 1.0, atol=1e-3)
    assert hit.paper.categories == ["astro-ph.CO"]
    # Citations are rendered where a paper leaves the arm, not per candidate in the index.
    assert hit.paper.citation == "" and "2405.00009" in hit.paper.cited().citation


def test_date_and_category_filters(index: PaperIndex, embedder: TextEmbedder) -> None:
    march = _search(
        index, embedder, "neural networks", start_date=date(2024, 3, 1), end_date=date(2024, 3, 31)
    )
    assert set(march) <= {"2403.00005", "2403.00006"} and "2403.00005" in march
    quantum = _search(index, embedder, "neural networks", categories=["quant-ph"])
    assert set(quantum) <= {"2403.00005", "2403.00006"} and quantum
    assert _search(index, embedder, "neural networks", start_date=date(2030, 1, 1)) == []


def test_a_newer_version_replaces_an_older_one_never_the_reverse(
    index: PaperIndex, embedder: TextEmbedder
) -> None:
    old = RECORDS[0]
    newer = replace(old, version=3, title="Sparse Attention Transformers, revised")
    vec = embedder.embed([newer.embedding_text])
    assert index.upsert([newer], vec) == 1
    assert index.upsert([replace(old, version=2)], vec) == 0  # an older snapshot
    assert index.versions([old.arxiv_id]) == {old.arxiv_id: 3}
    assert index.stats().records == 10  # replaced in place, never a second point
    assert dict(index.iter_versions())[old.arxiv_id] == 3


def test_two_versions_in_one_write_keep_the_latest_whatever_their_order(
    index: PaperIndex, embedder: TextEmbedder
) -> None:
    # Ray Data reads files in parallel: v5 and v4 of one paper can reach one batch, v5 first.
    old = RECORDS[1]
    v5, v4 = replace(old, version=5, title="Fifth"), replace(old, version=4, title="Fourth")
    vecs = embedder.embed([v5.embedding_text, v4.embedding_text])
    assert index.upsert([v5, v4], vecs) == 1
    assert index.versions([old.arxiv_id]) == {old.arxiv_id: 5}
    assert index.stats().records == 10


def test_stats_say_how_many_and_how_new(index: PaperIndex) -> None:
    stats = index.stats()
    assert stats.records == 10 and stats.newest == date(2024, 5, 7)


def test_a_reader_before_any_ingest_finds_nothing_and_creates_nothing(tmp_path: Path) -> None:
    reader = PaperIndex(None, path=str(tmp_path / "empty"))
    assert reader.stats().records == 0
    assert reader.rank(np.ones(384, dtype=np.float32), "anything", 5) == []
    assert reader.store is None and not (tmp_path / "empty" / "arxiv_index").exists()
    reader.close()


def test_a_second_process_on_an_embedded_index_gets_a_clear_error(
    index: PaperIndex, tmp_path: Path
) -> None:
    with pytest.raises(IndexLocked, match="open in another process"):
        PaperIndex(None, path=str(tmp_path / "index"))


def test_every_ranking_mode_finds_an_easy_paper(index: PaperIndex, embedder: TextEmbedder) -> None:
    vector = embedder.embed(["galaxy cluster masses from weak lensing"])[0]
    for mode in ("fused", "dense", "lexical", "rrf"):
        ranked = index.rank(vector, "galaxy cluster masses from weak lensing", 3, mode=mode)
        assert ranked[0][0] == point_id("2405.00009"), mode
        assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True), mode


def test_the_mix_scales_each_leg_and_weighs_them() -> None:
    from deployments.index.fusion import mix, scaled
    from deployments.store.points import Hit

    def leg(*scores: tuple[str, float]) -> list[Hit]:
        return [Hit(i, s) for i, s in scores]

    dense = leg(("a", 0.9), ("b", 0.8), ("c", 0.5))
    lexical = leg(("b", 30.0), ("d", 12.0))  # short leg: nothing else matched a word
    assert scaled(dense, depth=3) == pytest.approx({"a": 1.0, "b": 0.75, "c": 0.0})  # floor: last
    assert scaled(lexical, depth=3) == pytest.approx({"b": 1.0, "d": 0.4})  # short: floor 0
    ranked = mix(dense, lexical, depth=3, dense_weight=0.4, limit=3)
    assert [pid for pid, _ in ranked] == ["b", "a", "d"]  # b: 0.4*0.75 + 0.6*1.0 = 0.9
    assert ranked[0][1] == pytest.approx(0.9) and ranked[1][1] == pytest.approx(0.4)


def test_a_long_ingest_seals_a_segment_every_segment_records_and_finds_them_all(
    tmp_path: Path, embedder: TextEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real size is 100,000 records; four keeps the test small.
    monkeypatch.setattr("deployments.index.paper_index.SEGMENT_RECORDS", 4)
    writer = PaperIndex(embedder.dimension, path=str(tmp_path / "index"), ingest=True)
    assert writer.store is not None
    seals: list[int] = []
    optimize = writer.store.optimize

    def counted_optimize() -> None:
        seals.append(1)
        optimize()

    monkeypatch.setattr(writer.store, "optimize", counted_optimize)
    vectors = embedder.embed([r.embedding_text for r in RECORDS])
    for start in range(0, len(RECORDS), 3):  # 3 + 3 | 3 + 1 | (finish)
        writer.upsert(RECORDS[start : start + 3], vectors[start : start + 3])
    assert len(seals) == 2
    writer.finish()
    assert len(seals) == 3 and writer.stats().records == 10
    for record, vector in zip(RECORDS, vectors, strict=True):
        found = writer.rank(vector, record.title, 1)
        assert found[0][0] == point_id(record.arxiv_id)
    writer.close()
    # The shard keeps the segment cap for every later write and merge: one sealed segment's
    # float vectors fit, two do not.
    config = json.loads(next((tmp_path / "index").rglob("edge_config.json")).read_text())
    sealed_kb = SEGMENT_RECORDS * embedder.dimension * 4 / 1024
    assert sealed_kb < config["optimizers"]["max_segment_size"] < 2 * sealed_kb
