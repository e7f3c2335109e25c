"""The store interface's behaviour, the same tests on every engine: Qdrant Edge always,
qdrant-client's embedded mode (the server adapter's code path, offline), and a Qdrant server
where ``QDRANT_URL`` reaches one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployments.index.lexical import SparseTerms
from deployments.store.client import ClientStore
from deployments.store.edge import EdgeStore
from deployments.store.points import (
    AnyOf,
    IntRange,
    Leg,
    NewPoint,
    PointStore,
    Schema,
    SetDense,
    SetPayload,
    Where,
)

SCHEMA = Schema(
    dimension=3,
    dense="dense",
    sparse="lexical",
    integer_fields=("day",),
    keyword_fields=("tags",),
    quantized=True,
)
ENGINES = ["edge", "local", "server"]


def pid(n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"point-{n}"))


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PointStore]:
    made: PointStore
    if request.param == "edge":
        made = EdgeStore(tmp_path / "edge")
    elif request.param == "local":
        made = ClientStore("behaviour", path=str(tmp_path / "local"))
    else:
        url = os.environ.get("QDRANT_URL")
        if not url:
            pytest.skip("no Qdrant server: set QDRANT_URL to run these against one")
        made = ClientStore(f"behaviour_{uuid.uuid4().hex[:8]}", url=url)
    made.create(SCHEMA)
    made.upsert(
        [
            NewPoint(
                pid(n),
                dense=[1.0, n / 10, 0.0],
                sparse=SparseTerms([n, 100], [1.0, 0.5]),
                payload={"n": n, "day": 20200100 + n, "tags": ["even" if n % 2 == 0 else "odd"]},
            )
            for n in range(1, 11)
        ]
    )
    yield made
    if request.param == "server":
        assert isinstance(made, ClientStore)
        made.client.delete_collection(made.collection)
    made.close()


def test_written_points_read_back_with_vectors_and_fields(store: PointStore) -> None:
    assert store.dimension("dense") == 3 and store.count() == 10
    (point,) = store.retrieve([pid(4)], vectors=True)
    assert point.id == pid(4) and point.payload["n"] == 4
    assert len(point.vectors["dense"]) == 3
    (only,) = store.retrieve([pid(4)], fields=["day"])
    assert only.payload == {"day": 20200104}
    assert store.retrieve([pid(99)]) == []


def test_legs_rank_by_meaning_and_by_words_under_filters(store: PointStore) -> None:
    dense, lexical = store.query(
        [
            Leg("dense", 3, dense=[1.0, 1.0, 0.0]),
            Leg("lexical", 3, sparse=SparseTerms([7], [1.0])),
        ]
    )
    assert dense[0].id == pid(10) and dense[0].score >= dense[-1].score
    assert [h.id for h in lexical] == [pid(7)]  # one point has the term
    where = Where(must=(IntRange("day", gte=20200103, lte=20200106), AnyOf("tags", ("odd",))))
    (kept,) = store.query([Leg("dense", 10, dense=[1.0, 1.0, 0.0], where=where)])
    assert sorted(h.id for h in kept) == sorted([pid(3), pid(5)])


def test_insert_only_leaves_stored_points_and_conditional_writes_keep_to_their_filter(
    store: PointStore,
) -> None:
    store.upsert([NewPoint(pid(1), dense=[0.0, 0.0, 1.0], payload={"n": -1})], insert_only=True)
    (kept,) = store.retrieve([pid(1)])
    assert kept.payload["n"] == 1
    older = Where(must=(IntRange("n", lte=0),), ids=(pid(2),))  # n is 2: no match
    newer = Where(must=(IntRange("n", lte=5),), ids=(pid(3),))
    store.apply(
        [
            SetPayload(older, {"note": "no"}),
            SetDense(pid(2), [0.0, 0.0, 1.0], older),
            SetPayload(newer, {"note": "yes"}),
            SetPayload(Where(ids=(pid(3),)), {"k1": {"q": "a"}}, key="log"),
            SetPayload(Where(ids=(pid(3),)), {"k2": {"q": "b"}}, key="log"),
        ]
    )
    two, three = store.retrieve([pid(2), pid(3)], vectors=True)
    two, three = sorted((two, three), key=lambda p: p.payload["n"])
    assert "note" not in two.payload and two.vectors["dense"][2] == pytest.approx(0.0)
    assert three.payload["note"] == "yes" and set(three.payload["log"]) == {"k1", "k2"}


def test_scroll_pages_through_everything_once_and_largest_finds_the_newest(
    store: PointStore,
) -> None:
    seen, offset = [], None
    while True:
        page, offset = store.scroll(["n"], 4, offset)
        seen += [p.payload["n"] for p in page]
        if offset is None:
            break
    assert sorted(seen) == list(range(1, 11))
    assert store.largest("day") == 20200110
    store.delete([pid(10), pid(99)])
    assert store.count() == 9 and store.largest("day") == 20200109
