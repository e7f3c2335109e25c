"""PaperMemory on a real embedded Qdrant: one point per paper, and what an update keeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from deployments.memory.paper_memory import MAX_QUERIES_KEPT, PaperMemory
from models.contracts import MemoryQuery, NewMemory
from models.paper import Paper, point_id

DIM = 8


def paper(arxiv_id: str = "2401.00001", version: int = 1, day: int = 2) -> Paper:
    return Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=f"Paper {arxiv_id}",
        abstract="An abstract.",
        url=f"https://arxiv.org/abs/{arxiv_id}v{version}",
        published_date=date(2024, 1, day),
    )


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[PaperMemory]:
    store = PaperMemory(DIM, path=str(tmp_path / "qdrant"))
    yield store
    store.close()


def test_one_point_per_paper_whatever_its_version(memory: PaperMemory) -> None:
    memory.upsert([NewMemory(paper(version=1), unit(1), "first")], "q1")
    memory.upsert([NewMemory(paper(version=3), unit(1), None)], "q2")
    assert memory.count() == 1
    stored = memory.lookup(["2401.00001"])["2401.00001"]
    assert stored.paper.version == 3 and stored.queries == ["q1", "q2"]
    # The point's id is the uuid5 of the version-less id, the same in every deployment.
    assert memory.store.retrieve([point_id("2401.00001")])
    assert point_id("2401.00001") != point_id("2401.00002")


def test_an_update_keeps_the_old_summary_and_first_stored_time(memory: PaperMemory) -> None:
    memory.upsert([NewMemory(paper(), unit(1), "a TLDR")], "q1")
    first = memory.lookup(["2401.00001"])["2401.00001"]
    memory.upsert([NewMemory(paper(), unit(1), None)], "q2")  # no new summary this time
    again = memory.lookup(["2401.00001"])["2401.00001"]
    assert again.summary == "a TLDR" and again.stored_at == first.stored_at
    memory.upsert([NewMemory(paper(), unit(1), "a better TLDR")], "q3")
    assert memory.lookup(["2401.00001"])["2401.00001"].summary == "a better TLDR"


def test_query_history_is_capped_oldest_first(memory: PaperMemory) -> None:
    for i in range(MAX_QUERIES_KEPT + 10):
        memory.upsert([NewMemory(paper(), unit(1), None)], f"query {i}")
    memory.upsert([NewMemory(paper(), unit(1), None)], "query 59")  # a repeat is not added
    stored = memory.lookup(["2401.00001"])["2401.00001"]
    queries = stored.queries
    assert len(queries) == MAX_QUERIES_KEPT
    assert len(stored.query_keys) == MAX_QUERIES_KEPT + 10  # the history itself keeps them all
    assert queries[0] == "query 10" and queries[-1] == f"query {MAX_QUERIES_KEPT + 9}"


def test_a_store_of_another_dimension_is_refused(tmp_path: Path) -> None:
    PaperMemory(DIM, path=str(tmp_path / "q")).close()
    with pytest.raises(ValueError, match="8-d vectors"):
        PaperMemory(16, path=str(tmp_path / "q"))


def test_search_by_vector_and_date(memory: PaperMemory) -> None:
    memory.upsert(
        [
            NewMemory(paper("2401.00001", day=2), unit(1), None),
            NewMemory(paper("2401.00002", day=20), unit(2), None),
        ]
    )
    hits = memory.search(MemoryQuery(unit(2), limit=2))
    assert [h.paper.arxiv_id for h in hits] == ["2401.00002", "2401.00001"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    dated = memory.search(MemoryQuery(unit(2), 2, date(2024, 1, 1), date(2024, 1, 5)))
    assert [h.paper.arxiv_id for h in dated] == ["2401.00001"]


def test_check_answers_while_open_and_fails_once_closed(tmp_path: Path) -> None:
    store = PaperMemory(DIM, path=str(tmp_path / "q"))
    store.check()
    store.close()
    with pytest.raises(Exception):  # noqa: B017  # qdrant-client's own error once closed
        store.check()


def test_writes_commute_and_a_replay_changes_nothing(tmp_path: Path) -> None:
    """Two writers (MemoryWriter replicas, or a write replayed from the Ingress's outbox) in
    either order leave the same memory: both queries, the summary one of them made, one point."""
    a = (
        [NewMemory(paper(), unit(1), "a TLDR"), NewMemory(paper("2401.00002"), unit(2), None)],
        "qa",
    )
    b = ([NewMemory(paper(), unit(1), None)], "qb")
    finals = []
    for name, order in (("ab", (a, b, a)), ("ba", (b, a, a))):
        store = PaperMemory(DIM, path=str(tmp_path / name))
        for items, query in order:  # `a` twice: a replayed write
            store.upsert(items, query)
        stored = store.lookup(["2401.00001", "2401.00002"])
        finals.append(
            {k: (v.summary, sorted(v.queries)) for k, v in stored.items()} | {"n": store.count()}
        )
        store.close()
    assert (
        finals[0]
        == finals[1]
        == {
            "2401.00001": ("a TLDR", ["qa", "qb"]),
            "2401.00002": (None, ["qa"]),
            "n": 2,
        }
    )


def test_a_late_write_of_an_older_version_does_not_go_back(memory: PaperMemory) -> None:
    memory.upsert([NewMemory(paper(version=3), unit(3), "v3 TLDR")], "new")
    memory.upsert([NewMemory(paper(version=1), unit(1), "v1 TLDR")], "old")  # a replay, late
    stored = memory.lookup(["2401.00001"])["2401.00001"]
    assert stored.paper.version == 3 and stored.summary == "v3 TLDR"
    assert np.allclose(stored.vector, unit(3), atol=1e-6)
    assert sorted(stored.queries) == ["new", "old"]  # its query still counts


def test_the_vector_size_comes_from_settings_or_the_stored_collection(tmp_path: Path) -> None:
    folder = str(tmp_path / "fresh")
    with pytest.raises(ValueError, match="EMBEDDING_DIMENSION"):
        PaperMemory(None, path=folder)  # nothing stored, nothing configured: say which setting
    PaperMemory(DIM, path=folder).close()
    reopened = PaperMemory(None, path=folder)  # no Embedder asked: the collection says
    assert reopened.dimension == DIM
    reopened.close()
